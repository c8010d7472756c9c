using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace CMap.Buffer;

/// <summary>
/// The only code in CMap that allocates or frees native memory. One arena belongs to one map, so a map's
/// outstanding bytes can be read (and asserted to return to zero) while other maps live in the process.
/// </summary>
internal sealed unsafe class NativeArena
{
    /// <summary>Every block is aligned to at least a cache line, so index slots and chunk headers never straddle one.</summary>
    internal const nuint MinAlignment = 64;

    // Process-wide total across all arenas. Written only with Interlocked; read with Volatile.
    private static long s_totalOutstanding;

    // Writers: any thread that allocates or frees through this arena, always with Interlocked.
    private long _outstandingBytes;
    private long _allocations;
    private long _frees;

    /// <summary>
    /// Test hook: when positive, counts down on each allocation and fails the one that reaches zero. Read only when
    /// <see cref="TestHooks"/> is armed, so users' allocations never test it.
    /// </summary>
    internal int FailAfter
    {
        get => _failAfter;
        set
        {
            TestHooks.Require(nameof(FailAfter));
            _failAfter = value;
        }
    }

    private int _failAfter;

    /// <summary>Native bytes allocated through this arena and not yet freed.</summary>
    internal long OutstandingBytes => Volatile.Read(ref _outstandingBytes);

    /// <summary>Allocations made through this arena since it was created.</summary>
    internal long Allocations => Volatile.Read(ref _allocations);

    /// <summary>Blocks freed through this arena since it was created.</summary>
    internal long Frees => Volatile.Read(ref _frees);

    /// <summary>Native bytes outstanding across every arena in the process.</summary>
    internal static long TotalOutstandingBytes => Volatile.Read(ref s_totalOutstanding);

    /// <summary>
    /// Allocates <paramref name="bytes"/> aligned to <paramref name="alignment"/> (a power of two, at least 64).
    /// Throws <see cref="InsufficientMemoryException"/> (an <see cref="OutOfMemoryException"/>) and changes no count
    /// when the allocation fails.
    /// </summary>
    internal void* Alloc(nuint bytes, nuint alignment = MinAlignment)
    {
        if (alignment < MinAlignment)
        {
            alignment = MinAlignment;
        }

        if (TestHooks.Enabled && _failAfter > 0 && Interlocked.Decrement(ref _failAfter) == 0)
        {
            ThrowHelper.ThrowOutOfMemory(bytes);
        }

        void* p;
        try
        {
            p = NativeMemory.AlignedAlloc(bytes, alignment);
        }
        catch (OutOfMemoryException)
        {
            ThrowHelper.ThrowOutOfMemory(bytes);
            throw;
        }

        // Index words keep 48 address bits (see IndexWord); refuse anything wider rather than corrupt a word.
        if (((ulong)p >> 48) != 0)
        {
            NativeMemory.AlignedFree(p);
            ThrowHelper.ThrowAddressTooWide();
        }

        Interlocked.Add(ref _outstandingBytes, (long)bytes);
        Interlocked.Add(ref s_totalOutstanding, (long)bytes);
        Interlocked.Increment(ref _allocations);
        return p;
    }

    /// <summary>Like <see cref="Alloc"/>, with every byte zeroed.</summary>
    internal void* AllocZeroed(nuint bytes, nuint alignment = MinAlignment)
    {
        void* p = Alloc(bytes, alignment);
        NativeMemory.Clear(p, bytes);
        return p;
    }

    /// <summary>Frees a block from <see cref="Alloc"/>; <paramref name="bytes"/> must be the size it was allocated with.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void Free(void* p, nuint bytes)
    {
        NativeMemory.AlignedFree(p);
        Interlocked.Add(ref _outstandingBytes, -(long)bytes);
        Interlocked.Add(ref s_totalOutstanding, -(long)bytes);
        Interlocked.Increment(ref _frees);
    }
}
