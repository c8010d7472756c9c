using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using CMap.Hashing;
using Xunit;

namespace CMap.Tests.Hashing;

/// <summary>
/// Checks the map's one hashing method (<see cref="KeyHasher.Hash"/>, System.IO.Hashing's XXH3 underneath) against
/// vectors produced by the reference C library (libxxhash 0.8.1, <c>XXH3_64bits_withSeed</c>); see
/// Hashing/vectors/xxhash-vectors.tsv. A regression check: the library must keep hashing exactly as libxxhash does,
/// or every seeded test and benchmark would silently change.
/// </summary>
public sealed class KeyHasherTests
{
    private static ulong Hash(ReadOnlySpan<byte> data, ulong seed) => new KeyHasher(seed, ulong.MaxValue).Hash(data);

    // 301 lengths (0-300) plus 23 larger lengths, each with 4 seeds.
    private const int ExpectedRowCount = 1296;

    private static readonly ulong[] s_seeds = [0, 1, 0x9E3779B185EBCA8D, ulong.MaxValue];

    private static readonly Lazy<IReadOnlyList<VectorRow>> s_rows = new(LoadRows);

    private static readonly Lazy<byte[]> s_input = new(() => CreateInput(s_rows.Value.Max(row => row.Length)));

    public static TheoryData<int, string> BoundaryCases
    {
        get
        {
            // The edges of every stage: 0, 1-3, 4-8, 9-16, 17-128 (and its 32/64/96 steps), 129-240,
            // and > 240 around the stripe (64), block (1024) and larger sizes.
            int[] lengths = [0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 32, 33, 64, 65, 96, 97, 128, 129, 239, 240, 241, 255, 256, 1023, 1024, 1025, 100003, 1048576];
            var data = new TheoryData<int, string>();
            foreach (int length in lengths)
            {
                foreach (ulong seed in s_seeds)
                {
                    data.Add(length, seed.ToString("X16", CultureInfo.InvariantCulture));
                }
            }

            return data;
        }
    }

    [Fact]
    public void AllVectorRows_MatchReference()
    {
        IReadOnlyList<VectorRow> rows = s_rows.Value;
        Assert.Equal(ExpectedRowCount, rows.Count);

        byte[] input = s_input.Value;
        int mismatches = 0;
        string? firstMismatch = null;
        foreach (VectorRow row in rows)
        {
            ulong actual = Hash(input.AsSpan(0, row.Length), row.Seed);
            if (actual != row.Xxh3)
            {
                mismatches++;
                firstMismatch ??= Describe(row, actual);
            }
        }

        Assert.True(mismatches == 0, $"{mismatches} of {rows.Count} rows differ; first: {firstMismatch}");
    }

    [Theory]
    [MemberData(nameof(BoundaryCases))]
    public void BoundaryLength_MatchesReference(int length, string seedHex)
    {
        ulong seed = ulong.Parse(seedHex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        VectorRow? row = s_rows.Value.FirstOrDefault(r => r.Length == length && r.Seed == seed);
        Assert.True(row is not null, $"the vector file has no row for length {length}, seed {seedHex}");

        ulong actual = Hash(s_input.Value.AsSpan(0, length), seed);
        Assert.True(actual == row.Xxh3, Describe(row, actual));
    }

    [Fact]
    public void EveryLengthHasEverySeed()
    {
        foreach (IGrouping<int, VectorRow> group in s_rows.Value.GroupBy(row => row.Length))
        {
            Assert.Equal(s_seeds, group.Select(row => row.Seed).Order().ToArray());
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(13)]
    public void UnalignedSlice_MatchesReference(int offset)
    {
        // Place the reference input at an odd offset inside a larger buffer, with junk around it, so that every
        // read is unaligned and any read outside the slice would change the result.
        int[] lengths = [0, 1, 3, 4, 8, 9, 16, 17, 33, 65, 97, 128, 129, 200, 240, 241, 300, 1025, 8192, 10000];
        foreach (int length in lengths)
        {
            byte[] buffer = new byte[offset + length + 64];
            buffer.AsSpan().Fill(0xA5);
            s_input.Value.AsSpan(0, length).CopyTo(buffer.AsSpan(offset));

            foreach (ulong seed in s_seeds)
            {
                VectorRow row = s_rows.Value.Single(r => r.Length == length && r.Seed == seed);
                ulong actual = Hash(buffer.AsSpan(offset, length), seed);
                Assert.True(actual == row.Xxh3, $"offset {offset}: {Describe(row, actual)}");
            }
        }
    }

    [Fact]
    public void UnalignedSlice_OfRandomData_MatchesCopy()
    {
        // Arbitrary content (not just the vector pattern): a slice at any offset hashes like a copy of it.
        var random = new Random(12345);
        byte[] buffer = new byte[4096 + 64];
        random.NextBytes(buffer);
        for (int length = 0; length <= 4096; length += length < 300 ? 1 : 97)
        {
            int offset = random.Next(1, 64) | 1;
            ReadOnlySpan<byte> slice = buffer.AsSpan(offset, length);
            byte[] copy = slice.ToArray();
            ulong seed = s_seeds[length % s_seeds.Length];
            Assert.Equal(Hash(copy, seed), Hash(slice, seed));
        }
    }

    private static string Describe(VectorRow row, ulong actual) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"length {row.Length}, seed 0x{row.Seed:X16}: expected 0x{row.Xxh3:X16}, actual 0x{actual:X16}");

    private static byte[] CreateInput(int length)
    {
        // Byte i of every vector's input is the top byte of i * 2654435761 (32-bit).
        byte[] input = new byte[length];
        for (int i = 0; i < input.Length; i++)
        {
            input[i] = (byte)(((uint)i * 2654435761u) >> 24);
        }

        return input;
    }

    private static List<VectorRow> LoadRows()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Hashing", "vectors", "xxhash-vectors.tsv");
        Assert.True(File.Exists(path), $"missing test vectors: {path}");

        // Columns: length, seed, XXH3-64, XXH64 (hex); lines starting with '#' are comments.
        var rows = new List<VectorRow>();
        foreach (string line in File.ReadLines(path))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            string[] columns = line.Split('\t');
            Assert.True(columns.Length >= 3, $"malformed vector row: '{line}'");
            rows.Add(new VectorRow(
                int.Parse(columns[0], NumberStyles.None, CultureInfo.InvariantCulture),
                ulong.Parse(columns[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture),
                ulong.Parse(columns[2], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture)));
        }

        return rows;
    }

    private sealed record VectorRow(int Length, ulong Seed, ulong Xxh3);
}
