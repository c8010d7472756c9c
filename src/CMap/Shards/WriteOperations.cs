using System;

namespace CMap;

/// <summary>What the write path does once it has looked the key up.</summary>
internal enum WriteAction : byte
{
    /// <summary>Leave the shard as it is.</summary>
    None,

    /// <summary>Store <see cref="IWriteOperation.Value"/> for the key, adding or replacing.</summary>
    Put,

    /// <summary>Remove the key (only when it was found).</summary>
    Remove,

    /// <summary>Leave the shard as it is, and hand the current value back (operations that return a previous value).</summary>
    Keep,
}

/// <summary>What a write did.</summary>
internal enum WriteOutcome : byte
{
    Unchanged,
    Added,
    Replaced,
    Removed,

    /// <summary>Nothing was done: with a budget, the write would pass it; the caller makes room (no lock held) and retries.</summary>
    NeedsRoom,
}

/// <summary>
/// One kind of write: the write path looks the key up under the shard lock and asks the operation what to do.
/// Upsert, add-only, get-or-add and remove are here; swap, compare-and-swap, compare-and-delete and get-and-delete
/// are further operations of the same shape. <see cref="Decide"/> runs under the shard lock and so must be CMap's own
/// code, never the user's.
/// </summary>
internal unsafe interface IWriteOperation
{
    /// <summary>
    /// True for operations that hand the value they replaced, removed or kept back to their caller (swap,
    /// get-and-delete, the in-place get-or-add). The write path then enters the map's epoch region before it changes
    /// anything and passes the old value to <see cref="SetPrevious"/>: the caller copies it out (into a span, an array,
    /// a user's buffer writer) after the lock is released, so no user code ever runs under it, and leaves the region.
    /// </summary>
    static abstract bool ReturnsPrevious { get; }

    /// <summary>False for operations that can only remove (the write path then never makes room for them under a budget).</summary>
    static abstract bool MayPut { get; }

    /// <summary>The value a <see cref="WriteAction.Put"/> stores.</summary>
    ReadOnlySpan<byte> Value { get; }

    /// <summary>Receives the old value and the region that keeps it readable (only when <see cref="ReturnsPrevious"/>).</summary>
    void SetPrevious(ReadOnlySpan<byte> value, long* region);

    /// <summary>
    /// Decides from the key's current state. <paramref name="current"/> is the stored value when
    /// <paramref name="found"/>, valid only during the call (the lock keeps its entry alive [I6]).
    /// </summary>
    WriteAction Decide(bool found, ReadOnlySpan<byte> current);
}

/// <summary>Insert: add or replace.</summary>
internal readonly ref struct Upsert(ReadOnlySpan<byte> value) : IWriteOperation
{
    public static bool MayPut => true;

    public static bool ReturnsPrevious => false;

    public readonly unsafe void SetPrevious(ReadOnlySpan<byte> value, long* region)
    {
    }

    public ReadOnlySpan<byte> Value { get; } = value;

    public WriteAction Decide(bool found, ReadOnlySpan<byte> current) => WriteAction.Put;
}

/// <summary>TryAdd: add only when absent.</summary>
internal readonly ref struct AddOnly(ReadOnlySpan<byte> value) : IWriteOperation
{
    public static bool MayPut => true;

    public static bool ReturnsPrevious => false;

    public readonly unsafe void SetPrevious(ReadOnlySpan<byte> value, long* region)
    {
    }

    public ReadOnlySpan<byte> Value { get; } = value;

    public WriteAction Decide(bool found, ReadOnlySpan<byte> current) => found ? WriteAction.None : WriteAction.Put;
}

/// <summary>Delete.</summary>
internal readonly ref struct Remove : IWriteOperation
{
    public static bool MayPut => false;

    public static bool ReturnsPrevious => false;

    public readonly unsafe void SetPrevious(ReadOnlySpan<byte> value, long* region)
    {
    }

    public ReadOnlySpan<byte> Value => default;

    public WriteAction Decide(bool found, ReadOnlySpan<byte> current) => found ? WriteAction.Remove : WriteAction.None;
}

/// <summary>The value an operation replaced or removed, readable until <see cref="Release"/> leaves the region that keeps it.</summary>
internal unsafe struct PreviousValue
{
    private byte* _value;
    private int _length;
    private long* _region;

    /// <summary>True when a value was replaced or removed.</summary>
    public readonly bool HasValue => _region != null;

    public readonly ReadOnlySpan<byte> Value => new(_value, _length);

    /// <summary>Records the old entry's value; the caller entered <paramref name="region"/> before the lock is released.</summary>
    internal void Set(ReadOnlySpan<byte> value, long* region)
    {
        _value = (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(value));
        _length = value.Length;
        _region = region;
    }

    /// <summary>Leaves the region: the old value may be freed from here on. Idempotent.</summary>
    internal void Release()
    {
        if (_region != null)
        {
            CMap.Buffer.EpochDomain.Exit(_region);
            _region = null;
        }
    }
}

/// <summary>Swap: store, and hand back the previous value.</summary>
internal ref struct SwapValue(ReadOnlySpan<byte> value) : IWriteOperation
{
    public static bool MayPut => true;

    public static bool ReturnsPrevious => true;

    public unsafe void SetPrevious(ReadOnlySpan<byte> value, long* region) => Previous.Set(value, region);

    public PreviousValue Previous;

    public ReadOnlySpan<byte> Value { get; } = value;

    public readonly WriteAction Decide(bool found, ReadOnlySpan<byte> current) => WriteAction.Put;
}

/// <summary>GetAndDelete: remove, and hand back the removed value.</summary>
internal ref struct TakeValue : IWriteOperation
{
    public static bool MayPut => false;

    public static bool ReturnsPrevious => true;

    public unsafe void SetPrevious(ReadOnlySpan<byte> value, long* region) => Previous.Set(value, region);

    public PreviousValue Previous;

    public readonly ReadOnlySpan<byte> Value => default;

    public readonly WriteAction Decide(bool found, ReadOnlySpan<byte> current) => found ? WriteAction.Remove : WriteAction.None;
}

/// <summary>CompareAndSwap: replace only when the current value equals the expected one (a byte comparison, CMap's own code).</summary>
internal readonly ref struct ReplaceIfEqual(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> value) : IWriteOperation
{
    public static bool MayPut => true;

    public static bool ReturnsPrevious => false;

    public readonly unsafe void SetPrevious(ReadOnlySpan<byte> value, long* region)
    {
    }

    private readonly ReadOnlySpan<byte> _expected = expected;

    public ReadOnlySpan<byte> Value { get; } = value;

    public WriteAction Decide(bool found, ReadOnlySpan<byte> current) =>
        found && current.SequenceEqual(_expected) ? WriteAction.Put : WriteAction.None;
}

/// <summary>CompareAndDelete: remove only when the current value equals the expected one.</summary>
internal readonly ref struct RemoveIfEqual(ReadOnlySpan<byte> expected) : IWriteOperation
{
    public static bool MayPut => false;

    public static bool ReturnsPrevious => false;

    public readonly unsafe void SetPrevious(ReadOnlySpan<byte> value, long* region)
    {
    }

    private readonly ReadOnlySpan<byte> _expected = expected;

    public ReadOnlySpan<byte> Value => default;

    public WriteAction Decide(bool found, ReadOnlySpan<byte> current) =>
        found && current.SequenceEqual(_expected) ? WriteAction.Remove : WriteAction.None;
}

/// <summary>
/// GetOrInsert's non-allocating slow path: add when absent; when a racing writer added the key first, hand its value
/// back as a previous value (read after the lock is released), so nothing is copied into a fresh array.
/// </summary>
internal ref struct GetOrAddInPlace(ReadOnlySpan<byte> value) : IWriteOperation
{
    public static bool MayPut => true;

    public static bool ReturnsPrevious => true;

    public unsafe void SetPrevious(ReadOnlySpan<byte> value, long* region) => Previous.Set(value, region);

    public PreviousValue Previous;

    public ReadOnlySpan<byte> Value { get; } = value;

    public readonly WriteAction Decide(bool found, ReadOnlySpan<byte> current) => found ? WriteAction.Keep : WriteAction.Put;
}
