using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using CMap;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace CMap.Tests;

/// <summary>
/// The README's examples are this file's <c>quickstart</c> and <c>cache</c> regions, word for word: the tests run
/// them and check that README.md still shows exactly this code.
/// </summary>
public sealed class ReadmeExampleTests
{
    [Fact]
    public void QuickStartRunsAndPrintsWhatTheReadmeSays()
    {
        var lines = new List<string>();
        Console.t_lines = lines;
        QuickStart();
        Assert.Equal(["{\"name\":\"Ada\"}", "False", "{\"name\":\"Ada\"}", "0"], lines);
    }

    [Fact]
    public void CacheExampleRunsAndPrintsWhatTheReadmeSays()
    {
        var lines = new List<string>();
        Console.t_lines = lines;
        CacheExample();
        Assert.Equal(["True", "False", "64", "True"], lines);
    }

    [Theory]
    [InlineData("quickstart")]
    [InlineData("cache")]
    public void ReadmeShowsTheTestedExample(string name)
    {
        string source = File.ReadAllText(Path.Combine(RepoRoot(), "tests", "CMap.Tests", "ReadmeExampleTests.cs"))
            .Replace("\r\n", "\n", StringComparison.Ordinal);
        string region = Dedent(Between(source, $"// <{name}>\n", $"// </{name}>\n"));
        string readme = File.ReadAllText(Path.Combine(RepoRoot(), "README.md")).Replace("\r\n", "\n", StringComparison.Ordinal);
        Assert.Contains(region, readme, StringComparison.Ordinal);
    }

    private static void QuickStart()
    {
        // <quickstart>
        using var map = new ByteMap();

        byte[] key = Encoding.UTF8.GetBytes("user:42");
        map.Insert(key, Encoding.UTF8.GetBytes("{\"name\":\"Ada\"}"));

        // Zero-allocation read into a caller's buffer.
        Span<byte> buffer = stackalloc byte[256];
        if (map.TryGet(key, buffer, out int written))
        {
            Console.WriteLine(Encoding.UTF8.GetString(buffer[..written]));
        }

        // Atomic get-or-insert: exactly one caller wins for a key; the others get the winner's value.
        byte[] current = map.GetOrInsert(key, "{}"u8, out bool inserted);
        Console.WriteLine(inserted);
        Console.WriteLine(Encoding.UTF8.GetString(current));

        map.Delete(key);
        Console.WriteLine(map.Count);
        // </quickstart>
    }

    private static void CacheExample()
    {
        // <cache>
        var clock = new FakeTimeProvider(); // TimeProvider.System when not set
        using var cache = new ByteMap(new CMapConfig
        {
            MaxBytes = 64L << 20,   // every native byte the map holds; the coldest entries are evicted past it
            TimeProvider = clock,
        });

        cache.Insert("session:1"u8, "Ada"u8, CMapEntryOptions.ExpireAfter(TimeSpan.FromMinutes(20)));
        cache.Insert("page:/"u8, "<html/>"u8, new CMapEntryOptions { SlidingExpiration = TimeSpan.FromMinutes(5) });

        clock.Advance(TimeSpan.FromMinutes(4));
        Console.WriteLine(cache.Refresh("page:/"u8));   // True: extends the sliding window
        clock.Advance(TimeSpan.FromMinutes(17));
        Console.WriteLine(cache.ContainsKey("session:1"u8)); // False: 21 minutes after the write

        CMapStatistics stats = cache.GetStatistics();
        Console.WriteLine(stats.MaxBytes >> 20);
        Console.WriteLine(stats.Hits > 0 && stats.Misses > 0);
        // </cache>
    }

    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CMap.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("CMap.sln not found above " + AppContext.BaseDirectory);
    }

    private static string Between(string text, string start, string end)
    {
        int s = text.IndexOf(start, StringComparison.Ordinal);
        int e = text.IndexOf(end, StringComparison.Ordinal);
        Assert.True(s >= 0 && e > s, "example markers missing");
        int from = text.IndexOf('\n', s) + 1;
        int to = text.LastIndexOf('\n', e);
        return text[from..to];
    }

    private static string Dedent(string block)
    {
        string[] lines = block.Split('\n');
        int indent = lines.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart().Length);
        return string.Join('\n', lines.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart()));
    }

    /// <summary>Stands in for System.Console inside the quick start, so the test sees what it prints.</summary>
    private static class Console
    {
        [ThreadStatic]
        internal static List<string>? t_lines;

        internal static void WriteLine(object? value) => t_lines!.Add(value?.ToString() ?? string.Empty);
    }
}
