using System;
using System.Buffers.Binary;
using CMap.Buffer;

namespace CMap;

/// <summary>A shard's part of a snapshot: its live entries, encoded as snapshot records at one instant.</summary>
internal unsafe partial struct Shard
{
    /// <summary>
    /// Encodes every live, unexpired entry as a snapshot record (checksums left for <see cref="SealSnapshotRecords"/>,
    /// outside the lock) into <paramref name="buffer"/>, under the shard lock: the shard's image at one instant. Its
    /// writers wait for the copy (memory copies only, no stream); readers never wait. Expiry becomes wall-clock
    /// instants relative to <paramref name="nowUtcTicks"/>, the wall clock at <paramref name="now"/>.
    /// </summary>
    internal int CopySnapshotRecordsAtOneInstant(ref EntryBuffer buffer, long now, long nowUtcTicks, out long payloadBytes)
    {
        using ShardLock.Scope scope = _lock.EnterScope();
        ThrowIfDisposedUnsynchronized();
        var t = (IndexTable*)_table;
        ulong* slots = IndexTable.Slots(t);
        long capacity = t->Capacity;
        int count = 0;
        payloadBytes = 0;
        for (long i = 0; i < capacity; i++)
        {
            IndexTable.PrefetchAhead(slots, i, capacity);
            ulong w = slots[i];
            if (!IndexWord.IsLive(w))
            {
                continue;
            }

            var entry = new EntryReader(IndexWord.Address(w));
            byte flags = 0;
            long deadlineUtc = 0, windowTicks = 0, slidingUtc = 0;
            if (entry.HasExpiry)
            {
                long window = entry.Window;
                long deadline = entry.Deadline;
                long last = window == 0 ? 0 : t->Access[i];
                if (now >= ExpiryClock.EffectiveDeadline(deadline, window, last))
                {
                    continue; // expired: not part of the image
                }

                if (deadline != EntryLayout.NoDeadline)
                {
                    flags |= SnapshotFormat.DeadlineFlag;
                    deadlineUtc = UtcTicksAt(deadline, now, nowUtcTicks);
                }

                if (window != 0)
                {
                    flags |= SnapshotFormat.SlidingFlag;
                    windowTicks = Clock.SpanFor(window).Ticks;
                    slidingUtc = UtcTicksAt(ExpiryClock.SaturatingAdd(last, window), now, nowUtcTicks);
                }
            }

            ReadOnlySpan<byte> key = entry.Key;
            ReadOnlySpan<byte> value = entry.Value;
            Span<byte> r = buffer.Reserve(SnapshotFormat.RecordSize(flags, key.Length, value.Length));
            r[0] = flags;
            BinaryPrimitives.WriteInt32LittleEndian(r[1..], key.Length);
            BinaryPrimitives.WriteInt32LittleEndian(r[5..], value.Length);
            int at = SnapshotFormat.RecordFixedSize;
            if ((flags & SnapshotFormat.DeadlineFlag) != 0)
            {
                BinaryPrimitives.WriteInt64LittleEndian(r[at..], deadlineUtc);
                at += 8;
            }

            if ((flags & SnapshotFormat.SlidingFlag) != 0)
            {
                BinaryPrimitives.WriteInt64LittleEndian(r[at..], windowTicks);
                BinaryPrimitives.WriteInt64LittleEndian(r[(at + 8)..], slidingUtc);
                at += 16;
            }

            key.CopyTo(r[at..]);
            value.CopyTo(r[(at + key.Length)..]);
            count++;
            payloadBytes += key.Length + value.Length;
        }

        return count;
    }

    /// <summary>Fills in each record's checksum (after the lock is released).</summary>
    internal static void SealSnapshotRecords(Span<byte> records)
    {
        int offset = 0;
        while (offset < records.Length)
        {
            Span<byte> r = records[offset..];
            int size = SnapshotFormat.RecordSize(r[0], BinaryPrimitives.ReadInt32LittleEndian(r[1..]), BinaryPrimitives.ReadInt32LittleEndian(r[5..]));
            BinaryPrimitives.WriteUInt32LittleEndian(r[(size - SnapshotFormat.ChecksumSize)..], SnapshotFormat.Checksum(r[..(size - SnapshotFormat.ChecksumSize)]));
            offset += size;
        }
    }

    /// <summary>The wall-clock instant (UTC ticks) of timestamp <paramref name="timestamp"/>, saturating.</summary>
    private long UtcTicksAt(long timestamp, long now, long nowUtcTicks)
    {
        long ahead = Clock.SpanFor(Math.Max(0, timestamp - now)).Ticks;
        long utc = ExpiryClock.SaturatingAdd(nowUtcTicks, ahead);
        return Math.Min(utc, DateTimeOffset.MaxValue.UtcTicks);
    }
}
