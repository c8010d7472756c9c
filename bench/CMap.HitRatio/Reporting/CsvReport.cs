using System.Globalization;
using System.Text;
using CMap.HitRatio.Caches;

namespace CMap.HitRatio.Reporting;

/// <summary>Every cache run of every cell as one CSV row (invariant culture; ratios as fractions).</summary>
internal static class CsvReport
{
    public static string Csv(RunReport report)
    {
        var sb = new StringBuilder();
        sb.AppendLine("trace,size_percent,budget_bytes,distinct_keys,distinct_bytes,mean_entry_bytes,trace_requests,warmup_requests,cache,requests,hits,request_bytes,hit_bytes,object_hit_ratio,byte_hit_ratio,seconds,cmap_peak_native_ratio,cmap_mean_native_ratio,cmap_mean_live_ratio,cmap_evictions,error");
        foreach (Cell cell in report.Cells)
        {
            foreach (CacheRun run in cell.Runs)
            {
                CMapDetail? d = run.CMap;
                sb.AppendLine(string.Join(
                    ',',
                    cell.Trace,
                    I(cell.SizePercent),
                    I(cell.BudgetBytes),
                    I(cell.DistinctKeys),
                    I(cell.DistinctBytes),
                    I(cell.MeanEntryBytes),
                    I(cell.TotalRequests),
                    I(cell.WarmupRequests),
                    run.Cache,
                    I(run.Requests),
                    I(run.Hits),
                    I(run.RequestBytes),
                    I(run.HitBytes),
                    I(run.ObjectHitRatio),
                    I(run.ByteHitRatio),
                    I(run.Seconds),
                    d is null ? "" : I(d.PeakNativeRatio),
                    d is null ? "" : I(d.MeanNativeRatio),
                    d is null ? "" : I(d.MeanLiveRatio),
                    d is null ? "" : I(d.End.Evictions),
                    run.Error is null ? "" : "\"" + run.Error.Replace("\"", "\"\"", System.StringComparison.Ordinal) + "\""));
            }
        }

        return sb.ToString();
    }

    private static string I(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string I(long value) => value.ToString(CultureInfo.InvariantCulture);
}
