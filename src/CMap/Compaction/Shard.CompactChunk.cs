using System.Diagnostics;
using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>Moving one chunk's live entries out, batch by batch, and large entries outside the lock [C3][C6].</summary>
internal sealed unsafe partial class Shard
{
    /// <summary>Moves every live entry out of <paramref name="chunk"/>, then retires it. False if the shard was cleared or disposed meanwhile.</summary>
    private bool CompactChunk(Chunk chunk, long generation)
    {
        int offset = Chunk.HeaderSize;
        long moved = 0;
        bool pinned = false;
        while (true)
        {
            byte* large = null;
            long largeSize = 0;
            using (_lock.EnterScope())
            {
                // [C2] Cleared or disposed since the last batch: the chunk is retired; do not touch it.
                if (_disposed || _generation != generation)
                {
                    return false;
                }

                if (!pinned)
                {
                    // [C3] Chosen before this lock hold: skip it if its entries all died meanwhile (it was retired,
                    // and may even have been rented again). A sealed chunk never becomes the tail again otherwise.
                    int index = chunk.ListIndex;
                    if (index < 0 || index >= _chunks.Count || _chunks[index] != chunk || chunk == _tail)
                    {
                        return true;
                    }

                    // [C4] From here on only this compactor retires the chunk.
                    chunk.Header->Flags |= Chunk.PinnedFlag;
                    pinned = true;
                }

                ChunkHeader* h = chunk.Header;
                try
                {
                    long copied = 0;
                    int scanned = 0;
                    int used = h->Used;
                    while (offset < used && h->LiveBytes > 0 && scanned < CompactionBatchEntries)
                    {
                        byte* e = chunk.Base + offset;
                        var entry = new EntryReader(e);
                        long size = entry.TotalSize;
                        ulong hash = _settings.Hasher.Hash(entry.Key);
                        long slot = Probe.Find((IndexTable*)_table, hash, new AddressMatch(e), out _);
                        if (slot >= 0)
                        {
                            if (size > CompactionBatchBytes)
                            {
                                // [C6] Too large for a batch: reserve its copy now, copy it after releasing the lock.
                                large = e;
                                largeSize = size;
                                offset += (int)size;
                                break;
                            }

                            if (copied + size > CompactionBatchBytes)
                            {
                                break; // next batch: this entry would take the batch past its budget
                            }

                            MoveUnsynchronized(slot, e, size, hash, h);
                            copied += size;
                            moved += size;
                        }

                        offset += (int)size;
                        scanned++;
                    }

                    if (copied > _maxBytesCopiedUnderLock)
                    {
                        Volatile.Write(ref _maxBytesCopiedUnderLock, copied);
                    }

                    if (large == null)
                    {
                        if (h->LiveBytes > 0 && offset < used)
                        {
                            continue; // next batch, after letting writers in
                        }

                        Debug.Assert(h->LiveBytes == 0, "every live entry of a scanned chunk has an index word");
                        h->Flags &= unchecked((byte)~Chunk.PinnedFlag);
                        if (h->LiveBytes == 0)
                        {
                            Volatile.Write(ref _bytesReclaimed, _bytesReclaimed + chunk.Capacity - moved);
                            Volatile.Write(ref _chunksCompacted, _chunksCompacted + 1);
                            RetireChunkUnsynchronized(chunk);
                        }

                        return true;
                    }
                }
                catch
                {
                    // Out of memory for the copy: the entry was not moved and its word still points into this chunk.
                    // Unpin so that writers can retire the chunk once its last entry dies, and report the failure.
                    h->Flags &= unchecked((byte)~Chunk.PinnedFlag);
                    if (h->LiveBytes == 0)
                    {
                        RetireChunkUnsynchronized(chunk);
                    }

                    throw;
                }
            }

            if (!MoveLarge(chunk, large, largeSize, generation, ref moved))
            {
                return false;
            }
        }
    }

    /// <summary>
    /// [C6] Moves one entry larger than a batch: its copy is reserved under the lock, filled outside it inside an
    /// epoch region (which keeps both the pinned source and the destination readable even if Clear retires them),
    /// and published under the lock only if the word still points at the old copy; otherwise the racing write won
    /// and the copy is dead. False if the shard was cleared or disposed meanwhile.
    /// </summary>
    private bool MoveLarge(Chunk chunk, byte* entry, long size, long generation, ref long moved)
    {
        byte* copy;
        int sizeClass;
        using (_lock.EnterScope())
        {
            if (_disposed || _generation != generation)
            {
                return false;
            }

            try
            {
                copy = AppendUnsynchronized(size, out sizeClass);
            }
            catch
            {
                chunk.Header->Flags &= unchecked((byte)~Chunk.PinnedFlag);
                throw;
            }

            // The header first, so the reserved bytes already parse as an entry of the right size.
            *(ulong*)copy = *(ulong*)entry;
        }

        long* region = _epoch.Enter();
        System.Buffer.MemoryCopy(entry, copy, size, size);
        EpochDomain.Exit(region);

        using (_lock.EnterScope())
        {
            if (_disposed || _generation != generation)
            {
                return false;
            }

            Volatile.Write(ref _largeMovesOutsideLock, _largeMovesOutsideLock + 1);
            ulong hash = _settings.Hasher.Hash(new EntryReader(copy).Key);
            long slot = Probe.Find((IndexTable*)_table, hash, new AddressMatch(entry), out _);
            if (slot >= 0)
            {
                // [I1][C1] Release store, as for a batched move.
                Volatile.Write(ref IndexTable.Slots((IndexTable*)_table)[slot], IndexWord.Make(hash, sizeClass, copy));
                ChunkHeader* from = chunk.Header;
                from->LiveBytes -= size;
                from->DeadBytes += size;
                Volatile.Write(ref _deadBytes, _deadBytes + size);
                Volatile.Write(ref _bytesMoved, _bytesMoved + size);
                moved += size;
            }
            else
            {
                // [C6] A write replaced or removed the entry meanwhile: it wins, and the copy was never published.
                Volatile.Write(ref _largeMovesLostToWriters, _largeMovesLostToWriters + 1);
                ReleaseEntryBytesUnsynchronized(copy, sizeClass, size);
            }
        }

        return true;
    }

    /// <summary>Copies a live entry to the tail and swings its word to the copy [C1].</summary>
    private void MoveUnsynchronized(long slot, byte* entry, long size, ulong hash, ChunkHeader* from)
    {
        byte* copy = AppendUnsynchronized(size, out int sizeClass);
        System.Buffer.MemoryCopy(entry, copy, size, size);
        var t = (IndexTable*)_table; // appending never rebuilds the index, so the slot still holds the old word
        // [I1][C1] Release store: the copy's bytes are visible before the word that points at them. The old copy
        // stays intact (entries are immutable) and readable until its chunk's grace period ends.
        Volatile.Write(ref IndexTable.Slots(t)[slot], IndexWord.Make(hash, sizeClass, copy));
        from->LiveBytes -= size;
        from->DeadBytes += size;
        Volatile.Write(ref _deadBytes, _deadBytes + size);
        Volatile.Write(ref _bytesMoved, _bytesMoved + size);
    }
}
