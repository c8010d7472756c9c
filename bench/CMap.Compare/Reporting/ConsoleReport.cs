using System.Linq;
using CMap.Bench;
using Spectre.Console;

namespace CMap.Compare;

/// <summary>The console view of a run (Spectre.Console): the ratio table first, then every figure, then any overload flags.</summary>
internal static class ConsoleReport
{
    public static void Write(IAnsiConsole console, RunResult run)
    {
        foreach (TableSection section in ResultTable.Figures(run))
        {
            console.Write(Render(section));
        }

        console.Write(Render(ResultTable.Ratios(run)));
        console.MarkupLine(Markup.Escape(Format.Invariant(
            $"Figures: medians over {run.Rounds} interleaved rounds; ±N% is the larger distance from the median to the min or max. {ResultTable.Unsteady.Trim()} marks a ratio whose spread passes ±{ResultTable.RepeatableWithin * 100:0}%.")));

        StoreResult[] flagged = run.Runs.Where(r => r.Overload.Count > 0).ToArray();
        if (flagged.Length > 0)
        {
            console.MarkupLine($"[yellow]{flagged.Length} of {run.Runs.Count} workers flagged; those figures may be the machine's, not the store's (they still count in the medians):[/]");
            foreach (StoreResult r in flagged)
            {
                foreach (string reason in r.Overload)
                {
                    console.MarkupLine(Markup.Escape(Format.Invariant($"  round {r.Round} {r.Store}: {reason}")));
                }
            }
        }
        else
        {
            console.MarkupLine("No worker was flagged: no timed phase had to share the CPUs, and no latency max stood far above its GC pauses.");
        }

        foreach (StoreResult failed in run.Runs.Where(r => r.Error is not null))
        {
            console.MarkupLine($"[red]{Markup.Escape(Format.Invariant($"round {failed.Round} {failed.Store} failed: {failed.Error}"))}[/]");
        }
    }

    private static Table Render(TableSection section)
    {
        var table = new Table { Border = TableBorder.Rounded, Title = new TableTitle(Markup.Escape(section.Title)) };
        table.AddColumn(new TableColumn(""));
        foreach (string column in section.Columns)
        {
            table.AddColumn(new TableColumn(Markup.Escape(column)).RightAligned());
        }

        foreach (TableRow row in section.Rows)
        {
            table.AddRow([Markup.Escape(row.Label), .. row.Cells.Select(Markup.Escape)]);
        }

        return table;
    }
}
