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
        long size = EntryLayout.SizeOf(keyLength, valueLength, hasExpiry: false);
        Assert.Equal(headerSize + keyLength + (long)valueLength, size);

        byte* p = (byte*)NativeMemory.Alloc((nuint)size + 8);
        try
        {
            EntryLayout.Write(p, key, value);
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
    [InlineData(3, 5)]
    [InlineData(300, 5)]
    public void ExpiryIsStoredBetweenHeaderAndKey(int keyLength, int valueLength)
    {
        var key = new byte[keyLength];
        key.AsSpan().Fill(7);
        var value = new byte[valueLength];
        value.AsSpan().Fill(9);
        long size = EntryLayout.SizeOf(keyLength, valueLength, hasExpiry: true);
        Assert.Equal(EntryLayout.SizeOf(keyLength, valueLength, hasExpiry: false) + 8, size);
        byte* p = (byte*)NativeMemory.Alloc((nuint)size + 8);
        try
        {
            EntryLayout.Write(p, key, value, expiry: 1234567890123, hasExpiry: true);
            var e = new EntryReader(p);
            Assert.True(e.HasExpiry);
            Assert.Equal(1234567890123, e.Expiry);
            Assert.True(e.Key.SequenceEqual(key));
            Assert.True(e.Value.SequenceEqual(value));
            Assert.Equal(size, e.TotalSize);
            Assert.Contains("expiry=1234567890123", EntryLayout.Describe(p), StringComparison.Ordinal);
        }
        finally
        {
            NativeMemory.Free(p);
        }
    }
}
