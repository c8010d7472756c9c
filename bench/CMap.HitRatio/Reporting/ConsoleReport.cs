using System.Collections.Generic;
using CMap.Bench;
using Spectre.Console;

namespace CMap.HitRatio.Reporting;

/// <summary>The run's tables on the console (Spectre.Console).</summary>
internal static class ConsoleReport
{
    public static void Write(RunReport report)
    {
        AnsiConsole.WriteLine();
        AnsiConsole.Write(Table(
            Format.Invariant($"Hit ratios (object / byte, %) over each trace after its first {report.Options.WarmupFraction:P0}; seed {report.Options.Seed}. Goals: margin of CMap in points, object / byte."),
            report.MainHeader(),
            report.MainRows()));
        AnsiConsole.Write(Table("CMap's own figures (GetStatistics after the trace; means sampled over the counted requests)", RunReport.DetailHeader, report.DetailRows()));
        foreach ((string goal, int met, int applicable) in report.GoalSummary())
        {
            AnsiConsole.MarkupLine(Markup.Escape(Format.Invariant($"{goal}: met in {met} of {applicable} cells")));
        }

        foreach (string failure in report.Failures())
        {
            AnsiConsole.MarkupLine("[red]" + Markup.Escape(failure) + "[/]");
        }

        AnsiConsole.MarkupLine(Markup.Escape(Format.Invariant($"Finished in {report.Elapsed.TotalMinutes:0.0} min; report {report.Options.OutPath}")));
    }

    private static Table Table(string title, string[] header, IEnumerable<string[]> rows)
    {
        var table = new Table { Title = new TableTitle(Markup.Escape(title)), Border = TableBorder.Rounded };
        foreach (string h in header)
        {
            table.AddColumn(new TableColumn(Markup.Escape(h)));
        }

        foreach (string[] row in rows)
        {
            table.AddRow(System.Array.ConvertAll(row, c => (Spectre.Console.Rendering.IRenderable)new Text(c)));
        }

        return table;
    }
}
