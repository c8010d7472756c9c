using System;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CMap.Hashing;

/// <summary>
/// One-shot XXH3-64 (xxHash 0.8.x, <c>XXH3_64bits_withSeed</c>), bit-exact with the reference implementation.
/// </summary>
/// <remarks>
/// The input is split by length into the same stages as the reference: 0, 1-3, 4-8, 9-16, 17-128, 129-240
/// and over 240 bytes. Inputs of up to 240 bytes always use the default secret, with the seed folded into
/// each secret word as it is read; longer inputs use the default secret when the seed is zero and otherwise a
/// secret derived from the seed (<c>XXH3_initCustomSecret</c>), built on the stack. All reads are little-endian
/// and unaligned, so the result does not depend on the machine's byte order or on the input's alignment.
/// </remarks>
internal static class XxHash3
{
    // The 32-bit and 64-bit primes shared by XXH32, XXH64 and XXH3.
    private const uint Prime32_1 = 0x9E3779B1;
    private const uint Prime32_2 = 0x85EBCA77;
    private const uint Prime32_3 = 0xC2B2AE3D;
    private const ulong Prime64_1 = 0x9E3779B185EBCA87;
    private const ulong Prime64_2 = 0xC2B2AE3D27D4EB4F;
    private const ulong Prime64_3 = 0x165667B19E3779F9;
    private const ulong Prime64_4 = 0x85EBCA77C2B2AE63;
    private const ulong Prime64_5 = 0x27D4EB2F165667C5;

    // The multipliers used by XXH3's own avalanche and by the 4-8 byte "rrmxmx" finalizer.
    private const ulong PrimeMx1 = 0x165667919E3779F9;
    private const ulong PrimeMx2 = 0x9FB21C651E98DF25;

    // Geometry of the long-input (> 240 bytes) loop: stripes of 64 bytes, 8 lanes of 64 bits each,
    // the secret advancing 8 bytes per stripe, and a scramble after every block of 16 stripes.
    private const int SecretLengthBytes = 192;
    private const int StripeLengthBytes = 64;
    private const int SecretConsumeRate = 8;
    private const int StripesPerBlock = (SecretLengthBytes - StripeLengthBytes) / SecretConsumeRate;
    private const int BlockLengthBytes = StripeLengthBytes * StripesPerBlock;
    private const int SecretLastAccStart = 7;
    private const int SecretMergeAccsStart = 11;

    // Offsets into the secret used by the 129-240 byte stage.
    private const int MidSizeMaxBytes = 240;
    private const int MidSizeStartOffset = 3;
    private const int MidSizeLastOffset = 17;
    private const int SecretSizeMin = 136;

    // The first 128 bytes of the default secret as little-endian 64-bit words, named by byte offset.
    // The short-input stages only ever read these words of the default secret, so keeping them as constants
    // lets the JIT fold the secret (and any secret-only arithmetic) into the instruction stream.
    private const ulong Secret000 = 0xBE4BA423396CFEB8;
    private const ulong Secret008 = 0x1CAD21F72C81017C;
    private const ulong Secret016 = 0xDB979083E96DD4DE;
    private const ulong Secret024 = 0x1F67B3B7A4A44072;
    private const ulong Secret032 = 0x78E5C0CC4EE679CB;
    private const ulong Secret040 = 0x2172FFCC7DD05A82;
    private const ulong Secret048 = 0x8E2443F7744608B8;
    private const ulong Secret056 = 0x4C263A81E69035E0;
    private const ulong Secret064 = 0xCB00C391BB52283C;
    private const ulong Secret072 = 0xA32E531B8B65D088;
    private const ulong Secret080 = 0x4EF90DA297486471;
    private const ulong Secret088 = 0xD8ACDEA946EF1938;
    private const ulong Secret096 = 0x3F349CE33F76FAA8;
    private const ulong Secret104 = 0x1D4F0BC7C7BBDCF9;
    private const ulong Secret112 = 0x3159B4CD4BE0518A;
    private const ulong Secret120 = 0x647378D9C97E9FC8;

    /// <summary>The reference implementation's default 192-byte secret (<c>XXH3_kSecret</c>).</summary>
    // A ReadOnlySpan<byte> over a constant array is emitted as static data in the image: no allocation.
    private static ReadOnlySpan<byte> DefaultSecret =>
    [
        0xB8, 0xFE, 0x6C, 0x39, 0x23, 0xA4, 0x4B, 0xBE, 0x7C, 0x01, 0x81, 0x2C, 0xF7, 0x21, 0xAD, 0x1C,
        0xDE, 0xD4, 0x6D, 0xE9, 0x83, 0x90, 0x97, 0xDB, 0x72, 0x40, 0xA4, 0xA4, 0xB7, 0xB3, 0x67, 0x1F,
        0xCB, 0x79, 0xE6, 0x4E, 0xCC, 0xC0, 0xE5, 0x78, 0x82, 0x5A, 0xD0, 0x7D, 0xCC, 0xFF, 0x72, 0x21,
        0xB8, 0x08, 0x46, 0x74, 0xF7, 0x43, 0x24, 0x8E, 0xE0, 0x35, 0x90, 0xE6, 0x81, 0x3A, 0x26, 0x4C,
        0x3C, 0x28, 0x52, 0xBB, 0x91, 0xC3, 0x00, 0xCB, 0x88, 0xD0, 0x65, 0x8B, 0x1B, 0x53, 0x2E, 0xA3,
        0x71, 0x64, 0x48, 0x97, 0xA2, 0x0D, 0xF9, 0x4E, 0x38, 0x19, 0xEF, 0x46, 0xA9, 0xDE, 0xAC, 0xD8,
        0xA8, 0xFA, 0x76, 0x3F, 0xE3, 0x9C, 0x34, 0x3F, 0xF9, 0xDC, 0xBB, 0xC7, 0xC7, 0x0B, 0x4F, 0x1D,
        0x8A, 0x51, 0xE0, 0x4B, 0xCD, 0xB4, 0x59, 0x31, 0xC8, 0x9F, 0x7E, 0xC9, 0xD9, 0x78, 0x73, 0x64,
        0xEA, 0xC5, 0xAC, 0x83, 0x34, 0xD3, 0xEB, 0xC3, 0xC5, 0x81, 0xA0, 0xFF, 0xFA, 0x13, 0x63, 0xEB,
        0x17, 0x0D, 0xDD, 0x51, 0xB7, 0xF0, 0xDA, 0x49, 0xD3, 0x16, 0x55, 0x26, 0x29, 0xD4, 0x68, 0x9E,
        0x2B, 0x16, 0xBE, 0x58, 0x7D, 0x47, 0xA1, 0xFC, 0x8F, 0xF8, 0xB8, 0xD1, 0x7A, 0xD0, 0x31, 0xCE,
        0x45, 0xCB, 0x3A, 0x8F, 0x95, 0x16, 0x04, 0x28, 0xAF, 0xD7, 0xFB, 0xCA, 0xBB, 0x4B, 0x40, 0x7E,
    ];

    /// <summary>Computes the XXH3-64 hash of <paramref name="source"/> with <paramref name="seed"/>.</summary>
    /// <param name="source">The bytes to hash.</param>
    /// <param name="seed">The seed; zero gives the same result as the unseeded <c>XXH3_64bits</c>.</param>
    /// <returns>The same value as the reference <c>XXH3_64bits_withSeed(source, length, seed)</c>.</returns>
    internal static ulong HashToUInt64(ReadOnlySpan<byte> source, ulong seed)
    {
        uint length = (uint)source.Length;
        ref byte sourceRef = ref MemoryMarshal.GetReference(source);

        // The short stages are inlined here so that the common case (short keys) costs a single call;
        // the mid-size and long stages stay out of line to keep this method small.
        if (length <= 16)
        {
            return HashLength0To16(ref sourceRef, length, seed);
        }

        if (length <= 128)
        {
            return HashLength17To128(ref sourceRef, length, seed);
        }

        if (length <= MidSizeMaxBytes)
        {
            return HashLength129To240(ref sourceRef, length, seed);
        }

        return HashLengthOver240(ref sourceRef, length, seed);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong HashLength0To16(ref byte source, uint length, ulong seed)
    {
        if (length > 8)
        {
            return HashLength9To16(ref source, length, seed);
        }

        if (length >= 4)
        {
            return HashLength4To8(ref source, length, seed);
        }

        if (length != 0)
        {
            return HashLength1To3(ref source, length, seed);
        }

        // Empty input: only the seed and two secret words contribute.
        return XxHash64Avalanche(seed ^ (Secret056 ^ Secret064));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong HashLength1To3(ref byte source, uint length, ulong seed)
    {
        // Pack the first, middle and last bytes and the length into one 32-bit value:
        // len = 1: { c1, 1, c1, c1 }, len = 2: { c2, 2, c1, c2 }, len = 3: { c3, 3, c1, c2 } (low to high byte).
        byte c1 = source;
        byte c2 = Unsafe.Add(ref source, length >> 1);
        byte c3 = Unsafe.Add(ref source, length - 1);
        uint combined = ((uint)c1 << 16) | ((uint)c2 << 24) | c3 | (length << 8);

        // Key it with the first two 32-bit secret words plus the seed, then apply XXH64's avalanche.
        ulong bitFlip = (unchecked((uint)Secret000) ^ (uint)(Secret000 >> 32)) + seed;
        return XxHash64Avalanche(combined ^ bitFlip);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong HashLength4To8(ref byte source, uint length, ulong seed)
    {
        // Mix the low half of the seed, byte-swapped, into its high half.
        seed ^= (ulong)BinaryPrimitives.ReverseEndianness((uint)seed) << 32;

        // The first and last 4 bytes (overlapping when length < 8) form one 64-bit value.
        uint inputLow = ReadUInt32LE(ref source);
        uint inputHigh = ReadUInt32LE(ref Unsafe.Add(ref source, length - sizeof(uint)));
        ulong bitFlip = (Secret008 ^ Secret016) - seed;
        ulong input64 = inputHigh + ((ulong)inputLow << 32);

        return Rrmxmx(input64 ^ bitFlip, length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong HashLength9To16(ref byte source, uint length, ulong seed)
    {
        // The first and last 8 bytes (overlapping when length < 16), each keyed with secret words and the seed.
        ulong bitFlipLow = (Secret024 ^ Secret032) + seed;
        ulong bitFlipHigh = (Secret040 ^ Secret048) - seed;
        ulong inputLow = ReadUInt64LE(ref source) ^ bitFlipLow;
        ulong inputHigh = ReadUInt64LE(ref Unsafe.Add(ref source, length - sizeof(ulong))) ^ bitFlipHigh;

        // Combine with a folded 128-bit multiply of the two keyed halves.
        ulong acc = length
            + BinaryPrimitives.ReverseEndianness(inputLow)
            + inputHigh
            + Multiply64To128ThenFold(inputLow, inputHigh);

        return Avalanche(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong HashLength17To128(ref byte source, uint length, ulong seed)
    {
        // Each round mixes one 16-byte chunk from the front and one from the back of the input (they may overlap),
        // working inwards; the number of rounds (1 to 4) depends on the length. The sum is order-independent, so
        // the rounds are written outermost-last like the reference, which keeps the branches nested.
        ulong acc = length * Prime64_1;

        if (length > 32)
        {
            if (length > 64)
            {
                if (length > 96)
                {
                    acc += Mix16Bytes(ref Unsafe.Add(ref source, 48), Secret096, Secret104, seed);
                    acc += Mix16Bytes(ref Unsafe.Add(ref source, length - 64), Secret112, Secret120, seed);
                }

                acc += Mix16Bytes(ref Unsafe.Add(ref source, 32), Secret064, Secret072, seed);
                acc += Mix16Bytes(ref Unsafe.Add(ref source, length - 48), Secret080, Secret088, seed);
            }

            acc += Mix16Bytes(ref Unsafe.Add(ref source, 16), Secret032, Secret040, seed);
            acc += Mix16Bytes(ref Unsafe.Add(ref source, length - 32), Secret048, Secret056, seed);
        }

        acc += Mix16Bytes(ref source, Secret000, Secret008, seed);
        acc += Mix16Bytes(ref Unsafe.Add(ref source, length - 16), Secret016, Secret024, seed);

        return Avalanche(acc);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ulong HashLength129To240(ref byte source, uint length, ulong seed)
    {
        ref byte secret = ref MemoryMarshal.GetReference(DefaultSecret);

        // The first 8 chunks of 16 bytes use the first 128 bytes of the secret, then the sum is avalanched.
        ulong acc = length * Prime64_1;
        acc += Mix16Bytes(ref source, Secret000, Secret008, seed);
        acc += Mix16Bytes(ref Unsafe.Add(ref source, 16), Secret016, Secret024, seed);
        acc += Mix16Bytes(ref Unsafe.Add(ref source, 32), Secret032, Secret040, seed);
        acc += Mix16Bytes(ref Unsafe.Add(ref source, 48), Secret048, Secret056, seed);
        acc += Mix16Bytes(ref Unsafe.Add(ref source, 64), Secret064, Secret072, seed);
        acc += Mix16Bytes(ref Unsafe.Add(ref source, 80), Secret080, Secret088, seed);
        acc += Mix16Bytes(ref Unsafe.Add(ref source, 96), Secret096, Secret104, seed);
        acc += Mix16Bytes(ref Unsafe.Add(ref source, 112), Secret112, Secret120, seed);
        acc = Avalanche(acc);

        // Every remaining whole chunk reuses the secret from the start, shifted by 3 bytes.
        uint roundCount = length / 16;
        for (uint i = 8; i < roundCount; i++)
        {
            ref byte key = ref Unsafe.Add(ref secret, (16 * (i - 8)) + MidSizeStartOffset);
            acc += Mix16Bytes(ref Unsafe.Add(ref source, 16 * i), ReadUInt64LE(ref key), ReadUInt64LE(ref Unsafe.Add(ref key, 8)), seed);
        }

        // The last 16 bytes (which may overlap the last chunk) use a fixed window near the end of the minimum secret.
        ref byte lastKey = ref Unsafe.Add(ref secret, SecretSizeMin - MidSizeLastOffset);
        acc += Mix16Bytes(ref Unsafe.Add(ref source, length - 16), ReadUInt64LE(ref lastKey), ReadUInt64LE(ref Unsafe.Add(ref lastKey, 8)), seed);

        return Avalanche(acc);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    [SkipLocalsInit]
    private static ulong HashLengthOver240(ref byte source, uint length, ulong seed)
    {
        // With a zero seed the reference hashes with the default secret as is.
        if (seed == 0)
        {
            return HashLong(ref source, length, ref MemoryMarshal.GetReference(DefaultSecret));
        }

        // Otherwise it derives a secret from the seed: each 16-byte pair of words of the default secret becomes
        // (low + seed, high - seed). It is only 192 bytes, so build it on the stack (no need to zero it first).
        Span<byte> customSecret = stackalloc byte[SecretLengthBytes];
        ref byte defaultSecret = ref MemoryMarshal.GetReference(DefaultSecret);
        ref byte custom = ref MemoryMarshal.GetReference(customSecret);
        if (Vector128.IsHardwareAccelerated && BitConverter.IsLittleEndian)
        {
            // One 128-bit add per pair of words: (low, high) + (seed, -seed).
            Vector128<ulong> seedVector = Vector128.Create(seed, 0 - seed);
            for (nuint i = 0; i < SecretLengthBytes; i += 16)
            {
                Vector128<ulong> words = Vector128.LoadUnsafe(ref defaultSecret, i).AsUInt64();
                (words + seedVector).AsByte().StoreUnsafe(ref custom, i);
            }
        }
        else
        {
            for (nuint i = 0; i < SecretLengthBytes; i += 16)
            {
                WriteUInt64LE(ref Unsafe.Add(ref custom, i), ReadUInt64LE(ref Unsafe.Add(ref defaultSecret, i)) + seed);
                WriteUInt64LE(ref Unsafe.Add(ref custom, i + 8), ReadUInt64LE(ref Unsafe.Add(ref defaultSecret, i + 8)) - seed);
            }
        }

        return HashLong(ref source, length, ref custom);
    }

    private static ulong HashLong(ref byte source, uint length, ref byte secret)
    {
        // Pick the widest accumulate loop the hardware supports; all three produce identical results.
        if (Avx2.IsSupported)
        {
            return HashLongAvx2(ref source, length, ref secret);
        }

        if (Sse2.IsSupported)
        {
            return HashLongSse2(ref source, length, ref secret);
        }

        return HashLongScalar(ref source, length, ref secret);
    }

    // The long-input algorithm, common to the three implementations below:
    //   1. Eight 64-bit accumulators start from fixed primes.
    //   2. The input is consumed in blocks of 16 stripes of 64 bytes. Each stripe is accumulated with a window of
    //      the secret that advances 8 bytes per stripe; after each full block the accumulators are scrambled with
    //      the last 64 bytes of the secret.
    //   3. The last, partial block accumulates its whole stripes (but never the final byte), then the last 64 bytes
    //      of the input are accumulated as a stripe of their own, with the secret window ending 7 bytes from its end.
    //   4. The accumulators are merged pairwise with the secret from byte 11 and avalanched.
    // Accumulating a stripe: for each lane i, with data = input word i and key = data ^ secret word i,
    //   acc[i ^ 1] += data; acc[i] += (key & 0xFFFFFFFF) * (key >> 32).
    // Scrambling: for each lane i, acc[i] = (acc[i] ^ (acc[i] >> 47) ^ secret word i) * Prime32_1.

    private static ulong HashLongAvx2(ref byte source, uint length, ref byte secret)
    {
        // Lanes 0-3 and 4-7 of the accumulators, each held in one 256-bit register.
        Vector256<ulong> acc0 = Vector256.Create(Prime32_3, Prime64_1, Prime64_2, Prime64_3);
        Vector256<ulong> acc1 = Vector256.Create(Prime64_4, Prime32_2, Prime64_5, Prime32_1);

        ref byte scrambleKey = ref Unsafe.Add(ref secret, SecretLengthBytes - StripeLengthBytes);
        nuint blockCount = (length - 1) / BlockLengthBytes;
        ref byte block = ref source;

        // Full blocks.
        for (nuint b = 0; b < blockCount; b++)
        {
            for (nuint s = 0; s < StripesPerBlock; s++)
            {
                ref byte stripe = ref Unsafe.Add(ref block, s * StripeLengthBytes);
                ref byte key = ref Unsafe.Add(ref secret, s * SecretConsumeRate);
                acc0 = AccumulateAvx2(acc0, ref stripe, ref key);
                acc1 = AccumulateAvx2(acc1, ref Unsafe.Add(ref stripe, 32), ref Unsafe.Add(ref key, 32));
            }

            acc0 = ScrambleAvx2(acc0, ref scrambleKey);
            acc1 = ScrambleAvx2(acc1, ref Unsafe.Add(ref scrambleKey, 32));
            block = ref Unsafe.Add(ref block, BlockLengthBytes);
        }

        // Whole stripes of the last, partial block.
        nuint stripeCount = ((length - 1) - (blockCount * BlockLengthBytes)) / StripeLengthBytes;
        for (nuint s = 0; s < stripeCount; s++)
        {
            ref byte stripe = ref Unsafe.Add(ref block, s * StripeLengthBytes);
            ref byte key = ref Unsafe.Add(ref secret, s * SecretConsumeRate);
            acc0 = AccumulateAvx2(acc0, ref stripe, ref key);
            acc1 = AccumulateAvx2(acc1, ref Unsafe.Add(ref stripe, 32), ref Unsafe.Add(ref key, 32));
        }

        // The last 64 bytes of the input.
        ref byte lastStripe = ref Unsafe.Add(ref source, length - StripeLengthBytes);
        ref byte lastKey = ref Unsafe.Add(ref secret, SecretLengthBytes - StripeLengthBytes - SecretLastAccStart);
        acc0 = AccumulateAvx2(acc0, ref lastStripe, ref lastKey);
        acc1 = AccumulateAvx2(acc1, ref Unsafe.Add(ref lastStripe, 32), ref Unsafe.Add(ref lastKey, 32));

        return MergeAccumulators(
            acc0.GetElement(0), acc0.GetElement(1), acc0.GetElement(2), acc0.GetElement(3),
            acc1.GetElement(0), acc1.GetElement(1), acc1.GetElement(2), acc1.GetElement(3),
            ref secret, length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> AccumulateAvx2(Vector256<ulong> acc, ref byte stripe, ref byte secret)
    {
        Vector256<ulong> data = Vector256.LoadUnsafe(ref stripe).AsUInt64();
        Vector256<ulong> key = data ^ Vector256.LoadUnsafe(ref secret).AsUInt64();

        // vpmuludq multiplies the low 32 bits of each 64-bit lane: low half of key times its high half.
        Vector256<ulong> product = Avx2.Multiply(key.AsUInt32(), (key >>> 32).AsUInt32());

        // Swap the 64-bit lanes within each 128-bit half, so that lane i receives input word i ^ 1.
        Vector256<ulong> swapped = Avx2.Shuffle(data.AsUInt32(), 0b01_00_11_10).AsUInt64();

        return acc + swapped + product;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> ScrambleAvx2(Vector256<ulong> acc, ref byte secret)
    {
        acc ^= acc >>> 47;
        acc ^= Vector256.LoadUnsafe(ref secret).AsUInt64();

        // A 64 x 32-bit multiply from two 32 x 32 -> 64-bit ones: lo * p + ((hi * p) << 32).
        Vector256<uint> prime = Vector256.Create(Prime32_1);
        Vector256<ulong> productLow = Avx2.Multiply(acc.AsUInt32(), prime);
        Vector256<ulong> productHigh = Avx2.Multiply((acc >>> 32).AsUInt32(), prime);
        return productLow + (productHigh << 32);
    }

    private static ulong HashLongSse2(ref byte source, uint length, ref byte secret)
    {
        // Lanes 0-1, 2-3, 4-5 and 6-7 of the accumulators, each held in one 128-bit register.
        Vector128<ulong> acc0 = Vector128.Create(Prime32_3, Prime64_1);
        Vector128<ulong> acc1 = Vector128.Create(Prime64_2, Prime64_3);
        Vector128<ulong> acc2 = Vector128.Create(Prime64_4, Prime32_2);
        Vector128<ulong> acc3 = Vector128.Create(Prime64_5, Prime32_1);

        ref byte scrambleKey = ref Unsafe.Add(ref secret, SecretLengthBytes - StripeLengthBytes);
        nuint blockCount = (length - 1) / BlockLengthBytes;
        ref byte block = ref source;

        // Full blocks.
        for (nuint b = 0; b < blockCount; b++)
        {
            for (nuint s = 0; s < StripesPerBlock; s++)
            {
                ref byte stripe = ref Unsafe.Add(ref block, s * StripeLengthBytes);
                ref byte key = ref Unsafe.Add(ref secret, s * SecretConsumeRate);
                acc0 = AccumulateSse2(acc0, ref stripe, ref key);
                acc1 = AccumulateSse2(acc1, ref Unsafe.Add(ref stripe, 16), ref Unsafe.Add(ref key, 16));
                acc2 = AccumulateSse2(acc2, ref Unsafe.Add(ref stripe, 32), ref Unsafe.Add(ref key, 32));
                acc3 = AccumulateSse2(acc3, ref Unsafe.Add(ref stripe, 48), ref Unsafe.Add(ref key, 48));
            }

            acc0 = ScrambleSse2(acc0, ref scrambleKey);
            acc1 = ScrambleSse2(acc1, ref Unsafe.Add(ref scrambleKey, 16));
            acc2 = ScrambleSse2(acc2, ref Unsafe.Add(ref scrambleKey, 32));
            acc3 = ScrambleSse2(acc3, ref Unsafe.Add(ref scrambleKey, 48));
            block = ref Unsafe.Add(ref block, BlockLengthBytes);
        }

        // Whole stripes of the last, partial block.
        nuint stripeCount = ((length - 1) - (blockCount * BlockLengthBytes)) / StripeLengthBytes;
        for (nuint s = 0; s < stripeCount; s++)
        {
            ref byte stripe = ref Unsafe.Add(ref block, s * StripeLengthBytes);
            ref byte key = ref Unsafe.Add(ref secret, s * SecretConsumeRate);
            acc0 = AccumulateSse2(acc0, ref stripe, ref key);
            acc1 = AccumulateSse2(acc1, ref Unsafe.Add(ref stripe, 16), ref Unsafe.Add(ref key, 16));
            acc2 = AccumulateSse2(acc2, ref Unsafe.Add(ref stripe, 32), ref Unsafe.Add(ref key, 32));
            acc3 = AccumulateSse2(acc3, ref Unsafe.Add(ref stripe, 48), ref Unsafe.Add(ref key, 48));
        }

        // The last 64 bytes of the input.
        ref byte lastStripe = ref Unsafe.Add(ref source, length - StripeLengthBytes);
        ref byte lastKey = ref Unsafe.Add(ref secret, SecretLengthBytes - StripeLengthBytes - SecretLastAccStart);
        acc0 = AccumulateSse2(acc0, ref lastStripe, ref lastKey);
        acc1 = AccumulateSse2(acc1, ref Unsafe.Add(ref lastStripe, 16), ref Unsafe.Add(ref lastKey, 16));
        acc2 = AccumulateSse2(acc2, ref Unsafe.Add(ref lastStripe, 32), ref Unsafe.Add(ref lastKey, 32));
        acc3 = AccumulateSse2(acc3, ref Unsafe.Add(ref lastStripe, 48), ref Unsafe.Add(ref lastKey, 48));

        return MergeAccumulators(
            acc0.GetElement(0), acc0.GetElement(1), acc1.GetElement(0), acc1.GetElement(1),
            acc2.GetElement(0), acc2.GetElement(1), acc3.GetElement(0), acc3.GetElement(1),
            ref secret, length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ulong> AccumulateSse2(Vector128<ulong> acc, ref byte stripe, ref byte secret)
    {
        Vector128<ulong> data = Vector128.LoadUnsafe(ref stripe).AsUInt64();
        Vector128<ulong> key = data ^ Vector128.LoadUnsafe(ref secret).AsUInt64();

        // pmuludq multiplies the low 32 bits of each 64-bit lane: low half of key times its high half.
        Vector128<ulong> product = Sse2.Multiply(key.AsUInt32(), (key >>> 32).AsUInt32());

        // Swap the two 64-bit lanes, so that lane i receives input word i ^ 1.
        Vector128<ulong> swapped = Sse2.Shuffle(data.AsUInt32(), 0b01_00_11_10).AsUInt64();

        return acc + swapped + product;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ulong> ScrambleSse2(Vector128<ulong> acc, ref byte secret)
    {
        acc ^= acc >>> 47;
        acc ^= Vector128.LoadUnsafe(ref secret).AsUInt64();

        // A 64 x 32-bit multiply from two 32 x 32 -> 64-bit ones: lo * p + ((hi * p) << 32).
        Vector128<uint> prime = Vector128.Create(Prime32_1);
        Vector128<ulong> productLow = Sse2.Multiply(acc.AsUInt32(), prime);
        Vector128<ulong> productHigh = Sse2.Multiply((acc >>> 32).AsUInt32(), prime);
        return productLow + (productHigh << 32);
    }

    [SkipLocalsInit]
    private static ulong HashLongScalar(ref byte source, uint length, ref byte secret)
    {
        // Portable fallback (including big-endian machines): the accumulators live in a stack buffer.
        Span<ulong> acc = stackalloc ulong[8];
        acc[0] = Prime32_3;
        acc[1] = Prime64_1;
        acc[2] = Prime64_2;
        acc[3] = Prime64_3;
        acc[4] = Prime64_4;
        acc[5] = Prime32_2;
        acc[6] = Prime64_5;
        acc[7] = Prime32_1;

        ref byte scrambleKey = ref Unsafe.Add(ref secret, SecretLengthBytes - StripeLengthBytes);
        nuint blockCount = (length - 1) / BlockLengthBytes;
        ref byte block = ref source;

        // Full blocks.
        for (nuint b = 0; b < blockCount; b++)
        {
            for (nuint s = 0; s < StripesPerBlock; s++)
            {
                AccumulateScalar(acc, ref Unsafe.Add(ref block, s * StripeLengthBytes), ref Unsafe.Add(ref secret, s * SecretConsumeRate));
            }

            for (int i = 0; i < acc.Length; i++)
            {
                ulong value = acc[i];
                value ^= value >> 47;
                value ^= ReadUInt64LE(ref Unsafe.Add(ref scrambleKey, i * sizeof(ulong)));
                acc[i] = value * Prime32_1;
            }

            block = ref Unsafe.Add(ref block, BlockLengthBytes);
        }

        // Whole stripes of the last, partial block.
        nuint stripeCount = ((length - 1) - (blockCount * BlockLengthBytes)) / StripeLengthBytes;
        for (nuint s = 0; s < stripeCount; s++)
        {
            AccumulateScalar(acc, ref Unsafe.Add(ref block, s * StripeLengthBytes), ref Unsafe.Add(ref secret, s * SecretConsumeRate));
        }

        // The last 64 bytes of the input.
        AccumulateScalar(
            acc,
            ref Unsafe.Add(ref source, length - StripeLengthBytes),
            ref Unsafe.Add(ref secret, SecretLengthBytes - StripeLengthBytes - SecretLastAccStart));

        return MergeAccumulators(acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7], ref secret, length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateScalar(Span<ulong> acc, ref byte stripe, ref byte secret)
    {
        for (int i = 0; i < 8; i++)
        {
            ulong data = ReadUInt64LE(ref Unsafe.Add(ref stripe, i * sizeof(ulong)));
            ulong key = data ^ ReadUInt64LE(ref Unsafe.Add(ref secret, i * sizeof(ulong)));
            acc[i ^ 1] += data;
            acc[i] += (ulong)(uint)key * (key >> 32);
        }
    }

    private static ulong MergeAccumulators(
        ulong acc0, ulong acc1, ulong acc2, ulong acc3, ulong acc4, ulong acc5, ulong acc6, ulong acc7, ref byte secret, uint length)
    {
        // Fold each pair of accumulators, keyed with 16 bytes of the secret from byte 11, into a running sum
        // that starts from the length, then avalanche.
        ref byte key = ref Unsafe.Add(ref secret, SecretMergeAccsStart);
        ulong result = length * Prime64_1;
        result += Multiply64To128ThenFold(acc0 ^ ReadUInt64LE(ref key), acc1 ^ ReadUInt64LE(ref Unsafe.Add(ref key, 8)));
        result += Multiply64To128ThenFold(acc2 ^ ReadUInt64LE(ref Unsafe.Add(ref key, 16)), acc3 ^ ReadUInt64LE(ref Unsafe.Add(ref key, 24)));
        result += Multiply64To128ThenFold(acc4 ^ ReadUInt64LE(ref Unsafe.Add(ref key, 32)), acc5 ^ ReadUInt64LE(ref Unsafe.Add(ref key, 40)));
        result += Multiply64To128ThenFold(acc6 ^ ReadUInt64LE(ref Unsafe.Add(ref key, 48)), acc7 ^ ReadUInt64LE(ref Unsafe.Add(ref key, 56)));
        return Avalanche(result);
    }

    /// <summary>Mixes 16 input bytes with two secret words offset by the seed (<c>XXH3_mix16B</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix16Bytes(ref byte source, ulong secretLow, ulong secretHigh, ulong seed) =>
        Multiply64To128ThenFold(
            ReadUInt64LE(ref source) ^ (secretLow + seed),
            ReadUInt64LE(ref Unsafe.Add(ref source, 8)) ^ (secretHigh - seed));

    /// <summary>Multiplies two 64-bit values to 128 bits and XORs the high half into the low half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Multiply64To128ThenFold(ulong left, ulong right)
    {
        ulong high = Math.BigMul(left, right, out ulong low);
        return low ^ high;
    }

    /// <summary>XXH3's final mix for the 9-240 byte and long stages.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Avalanche(ulong hash)
    {
        hash ^= hash >> 37;
        hash *= PrimeMx1;
        hash ^= hash >> 32;
        return hash;
    }

    /// <summary>XXH64's final mix, used by XXH3 for inputs of 0 to 3 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong XxHash64Avalanche(ulong hash)
    {
        hash ^= hash >> 33;
        hash *= Prime64_2;
        hash ^= hash >> 29;
        hash *= Prime64_3;
        hash ^= hash >> 32;
        return hash;
    }

    /// <summary>The stronger final mix used for inputs of 4 to 8 bytes ("rrmxmx").</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Rrmxmx(ulong hash, uint length)
    {
        hash ^= ulong.RotateLeft(hash, 49) ^ ulong.RotateLeft(hash, 24);
        hash *= PrimeMx2;
        hash ^= (hash >> 35) + length;
        hash *= PrimeMx2;
        hash ^= hash >> 28;
        return hash;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ReadUInt32LE(ref byte source)
    {
        uint value = Unsafe.ReadUnaligned<uint>(ref source);
        return BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadUInt64LE(ref byte source)
    {
        ulong value = Unsafe.ReadUnaligned<ulong>(ref source);
        return BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteUInt64LE(ref byte destination, ulong value) =>
        Unsafe.WriteUnaligned(ref destination, BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value));
}
