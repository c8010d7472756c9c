using System;
using System.Runtime.InteropServices;
using CMap.Buffer;
using Xunit;

namespace CMap.Buffer.Tests;

public sealed unsafe class EntryLayoutTests
{
    [Theory]
    [InlineData(0, 0, 4)]
    [InlineData(16, 100, 4)]
    [InlineData(255, (4 << 20) - 1, 4)]
    [InlineData(256, 0, 8)]
    [InlineData(0, 4 << 20, 8)]
    [InlineData(65535, 5000, 8)]
    public void RoundTripsKeyAndValueWithTheSmallestHeader(int keyLength, int valueLength, int headerSize)
    {
        var key = new byte[keyLength];
        var value = new byte[valueLength];
        new Random(keyLength ^ valueLength).NextBytes(key);
        new Random(valueLength).NextBytes(value);
        long size = EntryLayout.SizeOf(keyLength, valueLength, default);
        Assert.Equal(headerSize + keyLength + (long)valueLength, size);

        byte* p = (byte*)NativeMemory.Alloc((nuint)size + 8);
        try
        {
            EntryLayout.Write(p, key, value, default);
            var e = new EntryReader(p);
            Assert.Equal(keyLength, e.KeyLength);
            Assert.Equal(valueLength, e.ValueLength);
            Assert.Equal(size, e.TotalSize);
            Assert.Equal(headerSize == 8, e.IsLongForm);
            Assert.False(e.HasExpiry);
            Assert.True(e.Key.SequenceEqual(key));
            Assert.True(e.Value.SequenceEqual(value));
            Assert.True(e.KeyEquals(key));
            if (keyLength > 0)
            {
                key[^1] ^= 1;
                Assert.False(e.KeyEquals(key));
            }
        }
        finally
        {
            NativeMemory.Free(p);
        }
    }

    [Theory]
    [InlineData(3, 5, 1234567890123, 0, 8)]
    [InlineData(300, 5, 1234567890123, 0, 8)]
    [InlineData(3, 5, 1234567890123, 777, 16)]
    [InlineData(300, 5, EntryLayout.NoDeadline, 777, 16)]
    public void ExpiryIsStoredBetweenHeaderAndKey(int keyLength, int valueLength, long deadline, long window, int extra)
    {
        var key = new byte[keyLength];
        key.AsSpan().Fill(7);
        var value = new byte[valueLength];
        value.AsSpan().Fill(9);
        var expiry = new EntryExpiry(deadline, window);
        long size = EntryLayout.SizeOf(keyLength, valueLength, expiry);
        Assert.Equal(EntryLayout.SizeOf(keyLength, valueLength, default) + extra, size);
        byte* p = (byte*)NativeMemory.Alloc((nuint)size + 8);
        try
        {
            EntryLayout.Write(p, key, value, expiry);
            var e = new EntryReader(p);
            Assert.True(e.HasExpiry);
            Assert.Equal(deadline, e.Deadline);
            Assert.Equal(window, e.Window);
            Assert.True(e.Key.SequenceEqual(key));
            Assert.True(e.Value.SequenceEqual(value));
            Assert.Equal(size, e.TotalSize);
            Assert.Contains(FormattableString.Invariant($"deadline={deadline}"), EntryLayout.Describe(p), StringComparison.Ordinal);
        }
        finally
        {
            NativeMemory.Free(p);
        }
    }
}
