using System;
using System.Diagnostics;
using System.IO;
using CMap.Tests.Stress;
using CMap.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests.Snapshot;

/// <summary>
/// Seeded fuzzing of Restore: every mutation of a valid snapshot must be rejected with InvalidDataException. A
/// crash is any other exception; a wrong accept is a mutated stream that restores; a hang is a restore that does not
/// finish (the whole run is bounded by its time limit, and each restore by the stream's length).
/// </summary>
[Collection(StressCollection.Name)]
public sealed class SnapshotFuzzTests(ITestOutputHelper output)
{
    private const int Mutations = 100_000;
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(60);

    [Fact]
    public void EveryMutationIsRejected()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var rnd = new Random(seed);
        byte[][] originals = [Valid(entries: 0), Valid(entries: 3), Valid(entries: 12), ValidWithExpiry()];
        var target = new CMapConfig { ShardCount = 1, Seed = 1, BackgroundCompaction = false, MaxValueLength = 4096 };
        int rejected = 0, crashes = 0, wrongAccepts = 0, done = 0;
        string? firstProblem = null;
        var watch = Stopwatch.StartNew();
        while (done < Mutations && watch.Elapsed < s_limit)
        {
            byte[] original = originals[rnd.Next(originals.Length)];
            byte[] mutated = Mutate(original, rnd);
            if (mutated.AsSpan().SequenceEqual(original))
            {
                continue; // not a mutation
            }

            done++;
            try
            {
                using ByteMap map = ByteMap.Restore(new MemoryStream(mutated, writable: false), target);
                wrongAccepts++;
                firstProblem ??= $"wrong accept: {Convert.ToHexString(mutated)}";
            }
            catch (InvalidDataException)
            {
                rejected++;
            }
            catch (Exception ex)
            {
                crashes++;
                firstProblem ??= $"crash {ex.GetType().Name}: {ex.Message} on {Convert.ToHexString(mutated)}";
            }
        }

        output.WriteLine($"{done:N0} mutations in {watch.Elapsed.TotalSeconds:F1} s: {rejected:N0} rejected, {crashes} crashes, {wrongAccepts} wrong accepts");
        Assert.True(firstProblem is null, $"seed {seed}: {firstProblem}");
        Assert.True(done >= Mutations, $"only {done:N0} mutations in {s_limit.TotalSeconds} s (seed {seed})");
        Assert.Equal(done, rejected);
    }

    private static byte[] Mutate(byte[] original, Random rnd)
    {
        byte[] b = (byte[])original.Clone();
        switch (rnd.Next(6))
        {
            case 0: // flip one bit
                b[rnd.Next(b.Length)] ^= (byte)(1 << rnd.Next(8));
                return b;
            case 1: // overwrite a byte
                b[rnd.Next(b.Length)] = (byte)rnd.Next(256);
                return b;
            case 2: // truncate
                return b[..rnd.Next(b.Length)];
            case 3: // insert a byte
            {
                int at = rnd.Next(b.Length + 1);
                return [.. b[..at], (byte)rnd.Next(256), .. b[at..]];
            }

            case 4: // delete a range
            {
                int at = rnd.Next(b.Length);
                int n = 1 + rnd.Next(Math.Min(16, b.Length - at));
                return [.. b[..at], .. b[(at + n)..]];
            }

            default: // overwrite a length-sized field with an extreme value
            {
                int at = rnd.Next(Math.Max(1, b.Length - 4));
                int value = rnd.Next(3) switch { 0 => int.MaxValue, 1 => -1, _ => rnd.Next(1 << 20) };
                BitConverter.TryWriteBytes(b.AsSpan(at), value);
                return b;
            }
        }
    }

    private static byte[] Valid(int entries)
    {
        using var map = new ByteMap(new CMapConfig { ShardCount = 2, Seed = 7, BackgroundCompaction = false });
        for (int i = 0; i < entries; i++)
        {
            map.Insert(MapConfigurations.Key(i), MapConfigurations.Bytes(i * 7 % 60, i));
        }

        return SnapshotTests.SnapshotOf(map);
    }

    private static byte[] ValidWithExpiry()
    {
        using var map = new ByteMap(new CMapConfig { ShardCount = 1, Seed = 7, BackgroundCompaction = false });
        map.Insert("a"u8, "1"u8, CMapEntryOptions.ExpireAfter(TimeSpan.FromDays(1)));
        map.Insert("b"u8, "22"u8, CMapEntryOptions.Sliding(TimeSpan.FromDays(1)));
        map.Insert("c"u8, "333"u8, new CMapEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromDays(2), SlidingExpiration = TimeSpan.FromHours(1) });
        return SnapshotTests.SnapshotOf(map);
    }
}
