#!/usr/bin/env bash
# Checks the epoch reader's fence (docs/concurrency.md E1) in code compiled ahead of time with Crossgen2:
#   linux-arm64: EpochDomain.Enter must issue `dmb ish` after the announce store (`stlr`);
#   linux-x64:   EpochDomain.Enter must have no fence at all (no mfence, no lock-prefixed instruction).
# Crossgen2 uses the same JIT as the runtime, so this is the code an Arm64 or x64 machine would run.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

dotnet build src/CMap.Buffer -c Release -v q -nologo > "$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
lib=src/CMap.Buffer/bin/Release/net10.0/CMap.Buffer.dll

disasm() { # $1 = rid
  # A ReadyToRun publish restores the Crossgen2 and runtime packs for the RID; then run Crossgen2 on the library.
  dotnet publish src/CMap.Buffer -c Release -r "$1" --self-contained false -p:PublishReadyToRun=true \
    -o "$out/pub-$1" -v q -nologo > "$out/pub-$1.log" 2>&1 || { cat "$out/pub-$1.log"; exit 1; }
  local cg rt
  cg=$(ls -d "$HOME"/.nuget/packages/microsoft.netcore.app.crossgen2.linux-x64/*/tools | sort -V | tail -n 1)/crossgen2
  rt=$(ls -d "$HOME"/.nuget/packages/microsoft.netcore.app.runtime."$1"/*/runtimes/"$1"/lib/net10.0 | sort -V | tail -n 1)
  op=$(ls "$HOME"/.nuget/packages/microsoft.extensions.objectpool/*/lib/net10.0/*.dll | sort -V | tail -n 1)
  "$cg" "$lib" -o "$out/r2r-$1.dll" --targetos linux --targetarch "${1#linux-}" -O -r "$rt/*.dll" -r "$op" \
    --codegenopt 'JitDisasm=Enter' > "$out/asm-$1.txt" 2>&1
  awk '/Assembly listing for method CMap.Buffer.EpochDomain:Enter\(/{f=1;next} f&&/Assembly listing/{f=0} f' "$out/asm-$1.txt"
}

arm=$(disasm linux-arm64)
x64=$(disasm linux-x64)
[ -n "$arm" ] && [ -n "$x64" ] || { echo "reader-fence check: no listing for EpochDomain.Enter"; exit 1; }

if ! printf '%s\n' "$arm" | awk '/stlr/{s=1} s&&/dmb[[:space:]]+ish/{ok=1} END{exit !ok}'; then
  echo "reader-fence check FAILED: arm64 EpochDomain.Enter has no 'dmb ish' after its announce store:"
  printf '%s\n' "$arm"
  exit 1
fi
if printf '%s\n' "$x64" | grep -Eq '^[[:space:]]+(mfence|lock|xchg)([[:space:]]|$)'; then
  echo "reader-fence check FAILED: x64 EpochDomain.Enter contains a fence:"
  printf '%s\n' "$x64"
  exit 1
fi
echo "reader-fence check passed: arm64 Enter announces with stlr then dmb ish; x64 Enter has no fence."
printf '%s\n' "$arm" | grep -E 'ldar|stlr|dmb' | sed 's/^/  arm64: /'
