using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using CMap;
using Xunit;

namespace CMap.Tests;

/// <summary>
/// The README's quick start is this file's <c>quickstart</c> region, word for word: the test runs it and checks
/// that README.md still shows exactly this code.
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
    public void ReadmeShowsTheTestedQuickStart()
    {
        string source = File.ReadAllText(Path.Combine(RepoRoot(), "tests", "CMap.Tests", "ReadmeExampleTests.cs"))
            .Replace("\r\n", "\n", StringComparison.Ordinal);
        string region = Dedent(Between(source, "// <quickstart>\n", "// </quickstart>\n"));
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
        Assert.True(s >= 0 && e > s, "quickstart markers missing");
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
