using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using CMap.Bench;
using CMap.HitRatio.Traces;

namespace CMap.HitRatio.Caches;

/// <summary>
/// The reference: an exact LRU bounded by key + value bytes (no per-entry overhead counted), a dictionary from key
/// number to a node of an intrusive doubly linked list kept in arrays. An entry larger than the budget is not cached.
/// </summary>
internal sealed class ExactLruCache : ISimulatedCache
{
    private const int None = -1;

    private readonly Dictionary<int, int> _index = [];
    private readonly long _limit;
    private int[] _key = new int[1024];
    private int[] _bytes = new int[1024];
    private int[] _prev = new int[1024];
    private int[] _next = new int[1024];
    private int _allocated;
    private int _free = None;
    private int _head = None; // most recently used
    private int _tail = None; // least recently used
    private long _used;
    private long _evictions;

    public ExactLruCache(CacheContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        _limit = context.BudgetBytes;
        Configuration = Format.Invariant($"exact LRU over key + value bytes, limit {Format.Bytes(_limit)}");
    }

    public string Configuration { get; }

    public bool Access(int id, int valueSize)
    {
        ref int slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_index, id, out bool exists);
        if (exists)
        {
            if (slot != _head)
            {
                Unlink(slot);
                PushHead(slot);
            }

            return true;
        }

        int bytes = KeySpace.KeySize + valueSize;
        if (bytes > _limit)
        {
            _index.Remove(id);
            return false;
        }

        // Evicting removes other keys from the dictionary, which may move this key's slot: set it afterwards.
        bool evicted = false;
        while (_used + bytes > _limit)
        {
            EvictTail();
            evicted = true;
        }

        int node = Allocate();
        _key[node] = id;
        _bytes[node] = bytes;
        PushHead(node);
        _used += bytes;
        if (evicted)
        {
            _index[id] = node;
        }
        else
        {
            slot = node;
        }

        return false;
    }

    public string Notes() => Format.Invariant($"{Format.Count(_index.Count)} entries, {Format.Bytes(_used)} used, {Format.Count(_evictions)} evictions");

    public void Dispose()
    {
    }

    private void EvictTail()
    {
        int node = _tail;
        Unlink(node);
        _index.Remove(_key[node]);
        _used -= _bytes[node];
        _next[node] = _free;
        _free = node;
        _evictions++;
    }

    private int Allocate()
    {
        if (_free != None)
        {
            int node = _free;
            _free = _next[node];
            return node;
        }

        if (_allocated == _key.Length)
        {
            int size = _key.Length * 2;
            Array.Resize(ref _key, size);
            Array.Resize(ref _bytes, size);
            Array.Resize(ref _prev, size);
            Array.Resize(ref _next, size);
        }

        return _allocated++;
    }

    private void PushHead(int node)
    {
        _prev[node] = None;
        _next[node] = _head;
        if (_head != None)
        {
            _prev[_head] = node;
        }

        _head = node;
        if (_tail == None)
        {
            _tail = node;
        }
    }

    private void Unlink(int node)
    {
        int p = _prev[node], n = _next[node];
        if (p != None)
        {
            _next[p] = n;
        }
        else
        {
            _head = n;
        }

        if (n != None)
        {
            _prev[n] = p;
        }
        else
        {
            _tail = p;
        }
    }
}
