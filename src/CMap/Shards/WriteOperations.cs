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
}

/// <summary>What a write did.</summary>
internal enum WriteOutcome : byte
{
    Unchanged,
    Added,
    Replaced,
    Removed,
}

/// <summary>
/// One kind of write: the write path looks the key up under the shard lock and asks the operation what to do.
/// Upsert, add-only, get-or-add and remove are here; swap, compare-and-swap, compare-and-delete and get-and-delete
/// are further operations of the same shape. <see cref="Decide"/> runs under the shard lock and so must be CMap's own
/// code, never the user's.
/// </summary>
internal interface IWriteOperation
{
    /// <summary>The value a <see cref="WriteAction.Put"/> stores.</summary>
    ReadOnlySpan<byte> Value { get; }

    /// <summary>
    /// Decides from the key's current state. <paramref name="current"/> is the stored value when
    /// <paramref name="found"/>, valid only during the call (the lock keeps its entry alive [I6]).
    /// </summary>
    WriteAction Decide(bool found, ReadOnlySpan<byte> current);
}

/// <summary>Insert: add or replace.</summary>
internal readonly ref struct Upsert(ReadOnlySpan<byte> value) : IWriteOperation
{
    public ReadOnlySpan<byte> Value { get; } = value;

    public WriteAction Decide(bool found, ReadOnlySpan<byte> current) => WriteAction.Put;
}

/// <summary>TryAdd: add only when absent.</summary>
internal readonly ref struct AddOnly(ReadOnlySpan<byte> value) : IWriteOperation
{
    public ReadOnlySpan<byte> Value { get; } = value;

    public WriteAction Decide(bool found, ReadOnlySpan<byte> current) => found ? WriteAction.None : WriteAction.Put;
}

/// <summary>GetOrInsert's slow path: add when absent, else copy the winner's value out.</summary>
internal ref struct GetOrAdd(ReadOnlySpan<byte> value) : IWriteOperation
{
    public byte[]? Existing;

    public ReadOnlySpan<byte> Value { get; } = value;

    public WriteAction Decide(bool found, ReadOnlySpan<byte> current)
    {
        if (!found)
        {
            return WriteAction.Put;
        }

        Existing = current.ToArray();
        return WriteAction.None;
    }
}

/// <summary>Delete.</summary>
internal readonly ref struct Remove : IWriteOperation
{
    public ReadOnlySpan<byte> Value => default;

    public WriteAction Decide(bool found, ReadOnlySpan<byte> current) => found ? WriteAction.Remove : WriteAction.None;
}
