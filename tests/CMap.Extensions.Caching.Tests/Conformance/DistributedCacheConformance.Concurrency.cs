using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CMap.Extensions.Caching.Tests.Stores;
using CMap.Extensions.Caching.Tests.Support;
using Microsoft.Extensions.Caching.Distributed;
using Xunit;

namespace CMap.Extensions.Caching.Tests.Conformance;

// Set, Get and Remove from several threads at once, sync and async paths mixed. Every value names its key, its writer
// and its sequence number and carries a checksum, so a read that returns a torn, mixed-up or foreign value is caught.
// Every wait is bounded.
public abstract partial class DistributedCacheConformance<TStore>
{
    private const int Workers = 4;
    private const int OpsPerWorker = 400;
    private static readonly TimeSpan s_workersTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Concurrent_writers_readers_and_removers_only_ever_see_whole_values_of_the_right_key()
    {
        using CacheSession session = Open();
        int seed = TestSeed.For(Output, "concurrency-shared-keys");
        string[] keys = [.. Enumerable.Range(0, 12).Select(i => session.Key($"shared-{i}"))];
        var failures = new ConcurrentQueue<string>();
        long hits = 0;
        using var start = new ManualResetEventSlim();

        Task[] workers = [.. Enumerable.Range(0, Workers).Select(w => Task.Factory.StartNew(
            async () =>
            {
                var rng = new Random(seed + w);
                if (!start.Wait(TimeSpan.FromSeconds(30)))
                {
                    failures.Enqueue($"worker {w}: the start signal never came");
                    return;
                }

                for (int op = 0; op < OpsPerWorker && failures.IsEmpty; op++)
                {
                    int k = rng.Next(keys.Length);
                    int roll = rng.Next(100);
                    if (roll < 40)
                    {
                        byte[] value = Stamped(k, w, op, rng.Next(0, 3000));
                        if ((op & 1) == 0)
                        {
                            session.Cache.Set(keys[k], value, NoExpiry);
                        }
                        else
                        {
                            await session.Cache.SetAsync(keys[k], new ReadOnlySequence<byte>(value), NoExpiry);
                        }
                    }
                    else if (roll < 85)
                    {
                        byte[]? value;
                        if ((op & 1) == 0)
                        {
                            value = session.Cache.Get(keys[k]);
                        }
                        else
                        {
                            var writer = new ArrayBufferWriter<byte>();
                            bool found = await session.Cache.TryGetAsync(keys[k], writer, Ct);
                            value = found ? writer.WrittenMemory.ToArray() : null;
                        }

                        if (value is not null)
                        {
                            Interlocked.Increment(ref hits);
                            if (CheckStamp(value, k) is string problem)
                            {
                                failures.Enqueue($"worker {w} op {op}: key {k}: {problem}");
                            }
                        }
                    }
                    else if ((op & 1) == 0)
                    {
                        session.Cache.Remove(keys[k]);
                    }
                    else
                    {
                        await session.Cache.RemoveAsync(keys[k]);
                    }
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default).Unwrap())];

        start.Set();
        await Task.WhenAll(workers).WaitAsync(s_workersTimeout, Ct);
        Assert.True(failures.IsEmpty, string.Join(Environment.NewLine, failures.Take(10)));
        Output.WriteLine($"{Workers} workers x {OpsPerWorker} operations, {hits} reads hit");
        Assert.True(hits > 0, "no read ever hit: the test checked nothing");

        // Quiet now: the last write to each key is what every path reads.
        for (int k = 0; k < keys.Length; k++)
        {
            byte[] final = Stamped(k, Workers, 0, 100 + k);
            session.Cache.Set(keys[k], final, NoExpiry);
            AssertSameBytes(final, await ReadAllWaysAsync(session.Cache, keys[k]));
        }
    }

    [Fact]
    public async Task Each_thread_reads_its_own_latest_write_while_others_write_theirs()
    {
        using CacheSession session = Open();
        int seed = TestSeed.For(Output, "concurrency-own-keys");
        var failures = new ConcurrentQueue<string>();

        Task[] workers = [.. Enumerable.Range(0, Workers).Select(w => Task.Run(async () =>
        {
            var rng = new Random(seed + w);
            var latest = new byte[8][];
            for (int op = 0; op < OpsPerWorker / 2 && failures.IsEmpty; op++)
            {
                int k = rng.Next(latest.Length);
                string key = session.Key($"w{w}-k{k}");
                if (rng.Next(5) == 0)
                {
                    await session.Cache.RemoveAsync(key);
                    latest[k] = null!;
                }
                else
                {
                    latest[k] = Stamped(k, w, op, rng.Next(0, 20_000));
                    session.Cache.Set(key, latest[k], NoExpiry);
                }

                byte[]? read = await session.Cache.GetAsync(key);
                if (latest[k] is null ? read is not null : read is null || !read.AsSpan().SequenceEqual(latest[k]))
                {
                    failures.Enqueue($"worker {w} op {op}: key {key} did not read back its own latest write");
                }
            }
        }))];

        await Task.WhenAll(workers).WaitAsync(s_workersTimeout, Ct);
        Assert.True(failures.IsEmpty, string.Join(Environment.NewLine, failures.Take(10)));
    }

    /// <summary>A value of <paramref name="bodyLength"/> bytes after a 16-byte header: key, writer, sequence, checksum.</summary>
    private static byte[] Stamped(int key, int writer, int sequence, int bodyLength)
    {
        var value = new byte[16 + bodyLength];
        BinaryPrimitives.WriteInt32LittleEndian(value, key);
        BinaryPrimitives.WriteInt32LittleEndian(value.AsSpan(4), writer);
        BinaryPrimitives.WriteInt32LittleEndian(value.AsSpan(8), sequence);
        var body = value.AsSpan(16);
        new Random(HashCode.Combine(key, writer, sequence)).NextBytes(body);
        BinaryPrimitives.WriteUInt32LittleEndian(value.AsSpan(12), Checksum(body));
        return value;
    }

    private static string? CheckStamp(byte[] value, int expectedKey)
    {
        if (value.Length < 16)
        {
            return $"a {value.Length}-byte value is shorter than its header";
        }

        int key = BinaryPrimitives.ReadInt32LittleEndian(value);
        if (key != expectedKey)
        {
            return $"the value was written for key {key}";
        }

        uint sum = BinaryPrimitives.ReadUInt32LittleEndian(value.AsSpan(12));
        return sum == Checksum(value.AsSpan(16)) ? null : "the checksum does not match the body (a torn or mixed value)";
    }

    private static uint Checksum(ReadOnlySpan<byte> body)
    {
        uint h = 2166136261;
        foreach (byte b in body)
        {
            h = (h ^ b) * 16777619;
        }

        return h ^ (uint)body.Length;
    }
}
