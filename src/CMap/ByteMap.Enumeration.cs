using System;

namespace CMap;

// Enumeration: a struct enumerator that copies one shard's entries at a time into its own pooled buffer inside a
// short epoch region, then yields from the buffer holding nothing of the map.
public sealed partial class ByteMap
{
    /// <summary>
    /// Enumerates the map's entries. Never blocks writers or the compactor and is never blocked by them; visits no
    /// key twice; visits every key present for the whole enumeration (keys added or removed meanwhile may or may not
    /// appear, with the old or the new value); skips expired entries. Each shard is copied, lock-free, into the
    /// enumerator's pooled buffer as <see cref="Enumerator.MoveNext"/> reaches it, so between calls the enumerator
    /// holds no epoch region and pins none of the map's memory: only that copy of one shard's entries.
    /// </summary>
    /// <returns>An enumerator; dispose it (foreach does) to return its buffer to the pool.</returns>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public Enumerator GetEnumerator()
    {
        ThrowIfDisposed();
        return new Enumerator(this);
    }

    /// <summary>One entry seen by an enumerator: spans into the enumerator's buffer, valid until the next <see cref="Enumerator.MoveNext"/>.</summary>
    public readonly ref struct Entry
    {
        internal Entry(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
        {
            Key = key;
            Value = value;
        }

        /// <summary>The key.</summary>
        public ReadOnlySpan<byte> Key { get; }

        /// <summary>The value.</summary>
        public ReadOnlySpan<byte> Value { get; }
    }

    /// <summary>A struct enumerator over the map's entries (see <see cref="GetEnumerator"/>).</summary>
    public ref struct Enumerator
    {
        private readonly ByteMap _map;
        private EntryBuffer _buffer;
        private int _nextShard;
        private int _offset;
        private Entry _current;

        internal Enumerator(ByteMap map)
        {
            _map = map;
            _buffer = default;
            _nextShard = 0;
            _offset = 0;
            _current = default;
        }

        /// <summary>The current entry: spans into the enumerator's buffer, valid until the next <see cref="MoveNext"/>.</summary>
        public readonly Entry Current => _current;

        /// <summary>Bytes the enumerator's buffer holds now (a copy of at most one shard's entries).</summary>
        public readonly int BufferedBytes => _buffer.Capacity;

        /// <summary>Moves to the next entry, copying the next shard's entries when the current shard's are done.</summary>
        /// <returns>False when every shard has been visited.</returns>
        /// <exception cref="ObjectDisposedException">The map was disposed during the enumeration.</exception>
        /// <exception cref="OutOfMemoryException">A shard's entries could not be copied.</exception>
        public bool MoveNext()
        {
            while (_offset >= _buffer.Length)
            {
                if (_nextShard >= _map._shards.Length)
                {
                    _current = default;
                    return false;
                }

                _buffer.Reset();
                _offset = 0;
                _map._shards[_nextShard++].CopyEntriesTo(ref _buffer);
                GC.KeepAlive(_map); // [E8]
            }

            (int keyStart, int keyLength, int valueLength) = _buffer.ReadRecord(_offset);
            byte[] bytes = _buffer.Array!;
            _current = new Entry(bytes.AsSpan(keyStart, keyLength), bytes.AsSpan(keyStart + keyLength, valueLength));
            _offset = keyStart + keyLength + valueLength;
            return true;
        }

        /// <summary>Returns the buffer to the pool. The enumerator yields nothing afterwards.</summary>
        public void Dispose()
        {
            _buffer.Release();
            _nextShard = int.MaxValue;
            _offset = 0;
            _current = default;
        }
    }
}
