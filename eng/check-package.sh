#!/usr/bin/env bash
# Checks the NuGet package as a consumer gets it:
#   1. `dotnet pack CMap.sln -c Release` gives exactly CMap.<version>.nupkg and CMap.Extensions.Caching.<version>.nupkg
#      with their .snupkg files (the adapter depends on CMap by a minimum version); CMap's holds CMap.dll and
#      CMap.Buffer.dll (and their XML docs) in lib/net10.0, both PDBs in the .snupkg, the package README, and
#      dependencies listed as minimum versions (never an exact [x] pin);
#   2. a throwaway console project outside the repository (none of its Directory.*.props apply) references CMap from
#      that local folder and Microsoft.Extensions.ObjectPool 10.0.13 (newer than the 10.0.12 CMap is built against),
#      restores from the local folder plus the registries this machine is configured with, and builds with warnings
#      as errors (so NU1608 or NU1605 would fail it);
#   3. it runs the package README's quick start (src/CMap/PACKAGE.md), which must print what that page says it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "package check FAILED: $*"; exit 1; }

objectpool=10.0.13
version=$(dotnet msbuild src/CMap/CMap.csproj -getProperty:PackageVersion -p:Configuration=Release -nologo | tr -d '[:space:]')
[ -n "$version" ] || fail "could not read CMap's PackageVersion"

# 1. The packages and their contents.
dotnet pack CMap.sln -c Release -o "$tmp/feed" -nologo -v q > "$tmp/pack.log" 2>&1 || { cat "$tmp/pack.log"; fail "dotnet pack failed"; }
got=$(cd "$tmp/feed" && ls | sort | tr '\n' ' ')
want="CMap.$version.nupkg CMap.$version.snupkg CMap.Extensions.Caching.$version.nupkg CMap.Extensions.Caching.$version.snupkg "
[ "$got" = "$want" ] || fail "dotnet pack gave '$got'; expected '$want'"

# The adapter's package: its own assembly only, CMap and the caching abstractions as minimum-version dependencies.
adapter="$tmp/feed/CMap.Extensions.Caching.$version.nupkg"
alib=$(unzip -Z1 "$adapter" | grep '^lib/' | sort | tr '\n' ' ')
[ "$alib" = "lib/net10.0/CMap.Extensions.Caching.dll lib/net10.0/CMap.Extensions.Caching.xml " ] || fail "the adapter package's lib/ holds '$alib'"
adeps=$(unzip -p "$adapter" CMap.Extensions.Caching.nuspec | grep -o '<dependency [^>]*>' || true)
printf '%s\n' "$adeps" | grep "id=\"CMap\" version=\"$version\"" > /dev/null || fail "the adapter does not depend on CMap $version: $adeps"
printf '%s\n' "$adeps" | grep 'id="Microsoft.Extensions.Caching.Abstractions"' > /dev/null || fail "the adapter does not depend on Microsoft.Extensions.Caching.Abstractions"
if printf '%s\n' "$adeps" | grep 'version="\[' > /dev/null; then fail "an adapter dependency is pinned exactly: $adeps"; fi

nupkg="$tmp/feed/CMap.$version.nupkg"
snupkg="$tmp/feed/CMap.$version.snupkg"
files=$(unzip -Z1 "$nupkg")
lib=$(printf '%s\n' "$files" | grep '^lib/' | sort | tr '\n' ' ')
[ "$lib" = "lib/net10.0/CMap.Buffer.dll lib/net10.0/CMap.Buffer.xml lib/net10.0/CMap.dll lib/net10.0/CMap.xml " ] \
  || fail "the package's lib/ holds '$lib'"
printf '%s\n' "$files" | grep -x 'PACKAGE.md' > /dev/null || fail "the package has no README (PACKAGE.md)"
pdbs=$(unzip -Z1 "$snupkg" | grep '\.pdb$' | sort | tr '\n' ' ')
[ "$pdbs" = "lib/net10.0/CMap.Buffer.pdb lib/net10.0/CMap.pdb " ] || fail "the symbols package holds '$pdbs'"
nuspec=$(unzip -p "$nupkg" CMap.nuspec)
deps=$(printf '%s\n' "$nuspec" | grep -o '<dependency [^>]*>' || true)
printf '%s\n' "$deps" | grep 'id="Microsoft.Extensions.ObjectPool"' > /dev/null || fail "Microsoft.Extensions.ObjectPool is not a dependency"
printf '%s\n' "$deps" | grep 'id="System.IO.Hashing"' > /dev/null || fail "System.IO.Hashing is not a dependency"
if printf '%s\n' "$deps" | grep 'version="\[' > /dev/null; then fail "a dependency is pinned exactly: $deps"; fi
if printf '%s\n' "$deps" | grep -i 'CMap.Buffer' > /dev/null; then fail "CMap.Buffer is a package dependency (it must ship inside CMap)"; fi
printf '%s\n' "$nuspec" | grep '<license type="expression">MIT</license>' > /dev/null || fail "the nuspec has no MIT license expression"

# 2. A consumer project, away from the repository's Directory.Build.props / Directory.Packages.props.
app="$tmp/consumer"
mkdir -p "$app"
cp global.json "$app/"
echo '<Project />' > "$app/Directory.Build.props"
echo '<Project />' > "$app/Directory.Build.targets"
echo '<Project />' > "$app/Directory.Packages.props"

# The local folder for CMap (only there: source mapping), everything else from the registries configured here.
{
  echo '<?xml version="1.0" encoding="utf-8"?>'
  echo '<configuration>'
  echo '  <config><add key="globalPackagesFolder" value="packages" /></config>'
  echo '  <packageSources>'
  echo '    <clear />'
  echo "    <add key=\"local\" value=\"$tmp/feed\" />"
  n=0
  while read -r url; do
    n=$((n + 1))
    echo "    <add key=\"registry$n\" value=\"$url\" />"
  done < <(dotnet nuget list source --format short | awk '$1 == "E" { print $2 }')
  echo '  </packageSources>'
  echo '  <packageSourceMapping>'
  echo '    <packageSource key="local"><package pattern="CMap" /></packageSource>'
  for i in $(seq 1 "$n"); do
    echo "    <packageSource key=\"registry$i\"><package pattern=\"*\" /></packageSource>"
  done
  echo '  </packageSourceMapping>'
  echo '</configuration>'
} > "$app/NuGet.config"

cat > "$app/Consumer.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>disable</ImplicitUsings>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
    <MSBuildTreatWarningsAsErrors>true</MSBuildTreatWarningsAsErrors>
    <WarningsAsErrors>\$(WarningsAsErrors);NU1603;NU1605;NU1608;NU1701</WarningsAsErrors>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="CMap" Version="[$version]" />
    <PackageReference Include="Microsoft.Extensions.ObjectPool" Version="$objectpool" />
  </ItemGroup>
</Project>
EOF

# 3. The package README's quick start is the program; what it prints is the README's "It prints ..." line.
awk '/^```csharp$/ { on = 1; next } on && /^```$/ { exit } on' src/CMap/PACKAGE.md > "$app/Program.cs"
[ -s "$app/Program.cs" ] || fail "no csharp quick start in src/CMap/PACKAGE.md"
expected=$(grep -m1 '^It prints ' src/CMap/PACKAGE.md | grep -o '`[^`]*`' | tr -d '`')
[ -n "$expected" ] || fail "no 'It prints ...' line in src/CMap/PACKAGE.md"

(cd "$app" && dotnet build -c Release -nologo -v q > "$tmp/build.log" 2>&1) || { cat "$tmp/build.log"; fail "the consumer project does not build with warnings as errors"; }
if grep -Eq 'warning [A-Z]+[0-9]+' "$tmp/build.log"; then cat "$tmp/build.log"; fail "the consumer build has warnings"; fi

resolved=$(python3 - "$app/obj/project.assets.json" <<'PY' 2>/dev/null || true
import json, sys
libs = json.load(open(sys.argv[1]))["libraries"]
print(" ".join(sorted(k for k in libs if k.split("/")[0] in ("CMap", "Microsoft.Extensions.ObjectPool", "System.IO.Hashing"))))
PY
)
if [ -n "$resolved" ]; then
  for want in "CMap/$version" "Microsoft.Extensions.ObjectPool/$objectpool"; do
    case " $resolved " in
      *" $want "*) ;;
      *) fail "the consumer resolved '$resolved', not $want" ;;
    esac
  done
fi

actual=$("$app/bin/Release/net10.0/Consumer") || fail "the consumer program failed"
if [ "$actual" != "$expected" ]; then
  printf 'expected:\n%s\nactual:\n%s\n' "$expected" "$actual"
  fail "the quick start does not print what src/CMap/PACKAGE.md says"
fi

echo "package check passed: CMap.$version.nupkg + .snupkg; lib/net10.0 has CMap and CMap.Buffer (dll, xml)."
printf '%s\n' "$deps" | sed -E 's/.*id="([^"]+)" version="([^"]+)".*/  dependency: \1 >= \2/'
echo "  consumer: CMap $version with Microsoft.Extensions.ObjectPool $objectpool builds with warnings as errors and runs the README quick start."
[ -n "$resolved" ] && echo "  resolved: $resolved"
exit 0
