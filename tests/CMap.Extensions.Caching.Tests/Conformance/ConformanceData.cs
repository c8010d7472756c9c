using CMap.Extensions.Caching.Tests.Support;
using Xunit;

namespace CMap.Extensions.Caching.Tests.Conformance;

/// <summary>The conformance suite's theory data (kept off the generic base class: CA1000).</summary>
public static class ConformanceData
{
    public static readonly int[] Sizes = [0, 128, 1024, 16 << 10, 1 << 20];

    public static readonly string[] WritePaths = ["Set(byte[])", "SetAsync(byte[])", "Set(sequence)", "SetAsync(sequence)"];

    public static TheoryData<int, string> SizesAndWritePaths
    {
        get
        {
            var data = new TheoryData<int, string>();
            foreach (int size in Sizes)
            {
                foreach (string path in WritePaths)
                {
                    data.Add(size, path);
                }
            }

            return data;
        }
    }

    public static TheoryData<string, int, bool> SequenceShapes
    {
        get
        {
            var data = new TheoryData<string, int, bool>();
            foreach (string shape in Sequences.Shapes)
            {
                foreach (int size in (int[])[0, 3000, 1 << 20])
                {
                    data.Add(shape, size, false);
                    data.Add(shape, size, true);
                }
            }

            return data;
        }
    }

    public static readonly TheoryData<string> AsyncMembers = new()
    {
        "GetAsync",
        "TryGetAsync",
        "SetAsync(byte[])",
        "SetAsync(sequence)",
        "RefreshAsync",
        "RemoveAsync",
    };
}
