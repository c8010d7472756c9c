using System;
using System.IO;
using System.Linq;
using System.Runtime;
using System.Runtime.InteropServices;

namespace CMap.Compare;

internal static class Machine
{
    /// <summary>Describes this machine; <paramref name="loadAverageAtStart"/> is <see cref="LoadAverage"/> read when the run began.</summary>
    public static MachineInfo Describe(string? loadAverageAtStart) => new(
        Environment.ProcessorCount,
        CpuModel(),
        RuntimeInformation.OSDescription,
        RuntimeInformation.OSArchitecture.ToString(),
        RuntimeInformation.FrameworkDescription,
        GcMode(),
        GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
        loadAverageAtStart,
        LoadAverage());

    /// <summary>The 1, 5 and 15 minute load averages where the OS publishes them (Linux), else null.</summary>
    public static string? LoadAverage()
    {
        const string loadAverage = "/proc/loadavg";
        return File.Exists(loadAverage)
            ? string.Join(", ", File.ReadAllText(loadAverage).Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(3))
            : null;
    }

    /// <summary>The GC flavour the workers run under (they share this program's runtimeconfig).</summary>
    private static string GcMode()
    {
        string flavour = GCSettings.IsServerGC ? "Server" : "Workstation";
        string background = GCSettings.LatencyMode == GCLatencyMode.Batch ? "non-concurrent" : "concurrent";
        return $"{flavour}, {background} (LatencyMode {GCSettings.LatencyMode})";
    }

    private static string? CpuModel()
    {
        const string cpuInfo = "/proc/cpuinfo";
        if (!File.Exists(cpuInfo))
        {
            return null;
        }

        string? line = File.ReadLines(cpuInfo).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line?[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
    }
}
