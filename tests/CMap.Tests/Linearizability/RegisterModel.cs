using System;
using System.Globalization;

namespace CMap.Tests.Linearizability;

/// <summary>Every <see cref="ByteMap"/> operation the linearizability test records (one per public overload shape).</summary>
internal enum OpKind : byte
{
    Insert,
    TryAdd,
    GetOrInsert,
    GetOrInsertWriter,
    Get,
    TryGetSpan,
    TryGetWriter,
    TryGetValue,
    TryRead,
    ContainsKey,
    Refresh,
    Delete,
    GetAndDelete,
    TryGetAndDeleteSpan,
    TryGetAndDeleteWriter,
    TryRemove,
    Swap,
    TrySwapSpan,
    TrySwapWriter,
    CompareAndSwap,
    CompareAndDelete,
}

/// <summary>
/// One operation of a history: what was asked (kind, key slot, value symbols, buffer size, expiry) and, once it ran,
/// what came back and when (Stopwatch ticks read just before the call and just after it returned).
/// </summary>
/// <remarks>
/// Values are symbols of a small alphabet (<see cref="RegisterModel.Absent"/> is "no value"); the recorder turns
/// every value a call hands back into its symbol by comparing the bytes with the values the history may write for
/// that key, and into <see cref="RegisterModel.Garbage"/> when they match none (torn, foreign, truncated). A call
/// that reports only a length (a destination too small) is turned into the symbol of that length: lengths are
/// unique per symbol.
/// </remarks>
internal struct Op
{
    public OpKind Kind;

    /// <summary>Index of the key within its history (0 to 3).</summary>
    public byte Key;

    /// <summary>The thread that ran it.</summary>
    public byte Thread;

    /// <summary>The value symbol a write stores (and GetOrInsert offers).</summary>
    public sbyte Arg;

    /// <summary>The symbol CompareAndSwap / CompareAndDelete expect.</summary>
    public sbyte Expected;

    /// <summary>Span forms: read into a destination too small for the larger symbols.</summary>
    public bool SmallBuffer;

    /// <summary>Expiry of a write: 0 none, 1 absolute, 2 sliding (expiry runs only).</summary>
    public byte Expiry;

    /// <summary>The expiry's span in milliseconds of the map's clock.</summary>
    public byte ExpiryMillis;

    /// <summary>
    /// A slow consumer: the TryRead callback, or the buffer writer of a writer form, yields its thread before it takes
    /// the value, so the operation is still in progress (inside the map's read region, or after a write released its
    /// lock but before it copied the old value out [I11]) while other threads run theirs.
    /// </summary>
    public bool Slow;

    /// <summary>The Boolean the call returned (or GetOrInsert's <c>inserted</c>).</summary>
    public bool Flag;

    /// <summary>The value the call handed back, as a symbol (<see cref="RegisterModel.Absent"/> when none).</summary>
    public sbyte Value;

    public long Call;
    public long Return;

    public readonly override string ToString()
    {
        string sym(sbyte s) => RegisterModel.Name(s);
        string args = Kind switch
        {
            OpKind.Insert or OpKind.TryAdd or OpKind.GetOrInsert or OpKind.GetOrInsertWriter or OpKind.Swap or OpKind.TrySwapSpan or OpKind.TrySwapWriter => sym(Arg),
            OpKind.CompareAndSwap => sym(Expected) + "→" + sym(Arg),
            OpKind.CompareAndDelete => sym(Expected),
            _ => "",
        };
        string result = Kind switch
        {
            OpKind.Insert or OpKind.TryAdd or OpKind.ContainsKey or OpKind.Refresh or OpKind.Delete or OpKind.CompareAndSwap or OpKind.CompareAndDelete => Flag ? "true" : "false",
            OpKind.GetOrInsert or OpKind.GetOrInsertWriter => sym(Value) + (Flag ? " (inserted)" : " (existing)"),
            _ => sym(Value),
        };
        string extra = (SmallBuffer ? " small-buffer" : "") + (Slow ? " slow-consumer" : "") + (Expiry == 1 ? $" ttl {ExpiryMillis} ms" : Expiry == 2 ? $" sliding {ExpiryMillis} ms" : "");
        return string.Create(CultureInfo.InvariantCulture, $"t{Thread} {Kind}({args}){extra} -> {result}");
    }
}

/// <summary>
/// The sequential specification: a register holding <see cref="Absent"/> or one value symbol. The checker runs it on
/// sets of states (bit 0: absent, bit 1 + s: symbol s), as Porcupine runs nondeterministic models, so a lossy
/// register (expiry, eviction: a spontaneous transition to absent at any moment) is one more union per step.
/// </summary>
internal static class RegisterModel
{
    public const sbyte Absent = -1;

    /// <summary>A value the history never wrote for this key (torn, foreign, truncated): no state explains it.</summary>
    public const sbyte Garbage = -2;

    /// <summary>Symbols of the alphabet. Small, so that compare-and-swaps often succeed.</summary>
    public const int Symbols = 4;

    public static int Bit(int state) => 1 << (state + 1);

    public static string Name(sbyte s) => s switch
    {
        Absent => "absent",
        Garbage => "GARBAGE",
        _ => ((char)('A' + s)).ToString(),
    };

    /// <summary>
    /// The states the register may be in after <paramref name="op"/>, from any of <paramref name="states"/>, when
    /// its results are what it returned; 0 when no state explains them. With <paramref name="lossy"/>, the register
    /// may first have dropped its value (expiry or eviction happened just before the operation took effect).
    /// </summary>
    public static int Step(int states, in Op op, bool lossy)
    {
        if (lossy)
        {
            states |= Bit(Absent);
        }

        int next = 0;
        for (int s = Absent; s < Symbols; s++)
        {
            if ((states & Bit(s)) != 0 && Apply((sbyte)s, op, out sbyte after))
            {
                next |= Bit(after);
            }
        }

        return next;
    }

    /// <summary>The sequential spec of one operation from one state: whether its results fit, and the state after.</summary>
    public static bool Apply(sbyte s, in Op op, out sbyte after)
    {
        bool present = s != Absent;
        after = s;
        switch (op.Kind)
        {
            case OpKind.Insert:
                after = op.Arg;
                return op.Flag == !present;

            case OpKind.TryAdd:
                if (!present)
                {
                    after = op.Arg;
                    return op.Flag;
                }

                return !op.Flag;

            case OpKind.GetOrInsert:
            case OpKind.GetOrInsertWriter:
                if (!present)
                {
                    after = op.Arg;
                    return op.Flag && op.Value == op.Arg;
                }

                return !op.Flag && op.Value == s;

            case OpKind.Get:
            case OpKind.TryGetSpan:
            case OpKind.TryGetWriter:
            case OpKind.TryGetValue:
            case OpKind.TryRead:
                return op.Value == s;

            case OpKind.ContainsKey:
            case OpKind.Refresh:
                return op.Flag == present;

            case OpKind.Delete:
                after = Absent;
                return op.Flag == present;

            case OpKind.GetAndDelete:
            case OpKind.TryGetAndDeleteSpan:
            case OpKind.TryGetAndDeleteWriter:
            case OpKind.TryRemove:
                after = Absent;
                return op.Value == s;

            case OpKind.Swap:
            case OpKind.TrySwapSpan:
            case OpKind.TrySwapWriter:
                after = op.Arg;
                return op.Value == s;

            case OpKind.CompareAndSwap:
                if (s == op.Expected)
                {
                    after = op.Arg;
                    return op.Flag;
                }

                return !op.Flag;

            case OpKind.CompareAndDelete:
                if (s == op.Expected)
                {
                    after = Absent;
                    return op.Flag;
                }

                return !op.Flag;

            default:
                throw new ArgumentOutOfRangeException(nameof(op), op.Kind, null);
        }
    }
}
