using CMap;
using Xunit;

namespace CMap.Tests.Index;

/// <summary>The index word's layout: the two-bit access count sits above the tag and never disturbs it (I9).</summary>
public sealed unsafe class IndexWordTests
{
    private const ulong Hash = 0xFEDC_BA98_7654_3210ul;

    private static ulong Word() => IndexWord.Make(Hash, 5, (byte*)0x7F12_3456_7890);

    [Fact]
    public void TheCountSaturatesAtThreeAndLeavesTagClassAndAddressAlone()
    {
        ulong word = Word();
        Assert.False(IndexWord.IsMarked(word));
        for (int reads = 1; reads <= 3; reads++)
        {
            Assert.False(IndexWord.IsSaturated(word), $"saturated after {reads - 1} reads");
            word += IndexWord.CountOne; // what a read's compare-and-swap stores
            Assert.True(IndexWord.IsMarked(word));
            Assert.Equal((ulong)reads, (word & IndexWord.CountMask) >> IndexWord.CountShift);
            Assert.True(IndexWord.TagMatches(word, Hash));
            Assert.Equal(5, IndexWord.SizeClass(word));
            Assert.Equal(0x7F12_3456_7890ul, (ulong)IndexWord.Address(word));
        }

        Assert.True(IndexWord.IsSaturated(word));
        Assert.Equal(IndexWord.CountMask, IndexWord.CountMask & ~IndexWord.TagMask & ~(IndexWord.ClassMask << IndexWord.ClassShift) & ~IndexWord.AddressMask);
    }

    [Fact]
    public void CoolingLowersTheCountByOneDownToZeroAndUnmarkingClearsIt()
    {
        ulong word = Word() + (3 * IndexWord.CountOne);
        Assert.Equal(Word(), IndexWord.Unmarked(word));
        for (int expected = 2; expected >= 0; expected--)
        {
            word = IndexWord.Cooled(word);
            Assert.Equal((ulong)expected, (word & IndexWord.CountMask) >> IndexWord.CountShift);
        }

        Assert.Equal(Word(), word);
        Assert.Equal(Word(), IndexWord.Cooled(word)); // an unmarked word stays as it is
    }

    [Fact]
    public void TheTagIsElevenBitsBelowTheCount()
    {
        // A hash that differs only in bit 62 or 63 (the count's bits) has the same tag; one that differs in bit 51 does not.
        Assert.True(IndexWord.TagMatches(Word(), Hash ^ (3ul << 62)));
        Assert.False(IndexWord.TagMatches(Word(), Hash ^ (1ul << 51)));
        Assert.False(IndexWord.TagMatches(Word(), Hash ^ (1ul << 61)));
        Assert.Equal(11, IndexWord.TagBits);
    }
}
