using System;
using System.Globalization;
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

    /// <summary>The most resident memory this process has had (Linux VmHWM), or null where the OS does not say.</summary>
    public static long? PeakWorkingSetBytes()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status))
        {
            return null;
        }

        string? line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        string[]? parts = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts is [_, string kilobytes, "kB"] && long.TryParse(kilobytes, NumberStyles.None, CultureInfo.InvariantCulture, out long kb)
            ? kb * 1024
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

/// <summary>
/// CPU time of the whole machine and of this process at one moment (Linux /proc/stat and /proc/self/stat, in clock
/// ticks). Two samples tell how much CPU other processes and the hypervisor took while a phase ran.
/// </summary>
internal readonly record struct CpuSample(long MachineBusyTicks, long StealTicks, long OwnTicks, long Timestamp)
{
    /// <summary>Clock ticks per second of /proc's CPU counters (USER_HZ: 100 on every Linux port in use).</summary>
    private const double TicksPerSecond = 100;

    /// <summary>Now, or null where /proc is not there.</summary>
    public static CpuSample? Take()
    {
        try
        {
            // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user)
            string[] cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long Field(int i) => i < cpu.Length ? long.Parse(cpu[i], CultureInfo.InvariantCulture) : 0;
            long busy = Field(1) + Field(2) + Field(3) + Field(6) + Field(7);

            // pid (comm) state ... utime stime: fields 14 and 15, counted from after the command name's ')'.
            string self = File.ReadAllText("/proc/self/stat");
            string[] rest = self[(self.LastIndexOf(')') + 2)..].Split(' ');
            long own = long.Parse(rest[11], CultureInfo.InvariantCulture) + long.Parse(rest[12], CultureInfo.InvariantCulture);
            return new CpuSample(busy, Field(8), own, System.Diagnostics.Stopwatch.GetTimestamp());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>What the machine did between <paramref name="start"/> and this sample while <paramref name="ownThreads"/> of ours were busy.</summary>
    public CpuLoad Since(CpuSample start, int ownThreads)
    {
        double seconds = System.Diagnostics.Stopwatch.GetElapsedTime(start.Timestamp, Timestamp).TotalSeconds;
        double others = Math.Max(0, (MachineBusyTicks - start.MachineBusyTicks - (OwnTicks - start.OwnTicks)) / TicksPerSecond / seconds);
        double steal = Math.Max(0, (StealTicks - start.StealTicks) / TicksPerSecond / seconds);
        double own = (OwnTicks - start.OwnTicks) / TicksPerSecond / seconds;
        return new CpuLoad(ownThreads, own, others, steal, ownThreads + others + steal, Environment.ProcessorCount);
    }
}
