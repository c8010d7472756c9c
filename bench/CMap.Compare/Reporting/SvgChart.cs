using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace CMap.Compare;

/// <summary>One cluster of bars: a metric, with one value per series (null where a store has no figure).</summary>
internal sealed record ChartGroup(string Label, IReadOnlyList<double?> Values);

/// <summary>A bar's label and fill colour, the same in every group.</summary>
internal sealed record ChartSeries(string Name, string Color);

/// <summary>
/// A minimal SVG writer for horizontal bar charts: a title, then per group a heading and one labelled bar per
/// series, with the value printed after each bar. All bars of a chart share one linear scale from zero.
/// </summary>
internal static class SvgChart
{
    private const int Width = 820;
    private const int LabelWidth = 170;
    private const int BarAreaWidth = 480;
    private const int BarHeight = 18;
    private const int BarGap = 5;
    private const int GroupHeadingHeight = 24;
    private const int GroupGap = 12;
    private const int TitleHeight = 34;
    private const int SubtitleHeight = 18;
    private const int BottomMargin = 12;

    public static string HorizontalBars(string title, string subtitle, IReadOnlyList<ChartSeries> series, IReadOnlyList<ChartGroup> groups, Func<double, string> format)
    {
        double max = groups.SelectMany(g => g.Values).Max(v => v ?? 0);
        double scale = max > 0 ? BarAreaWidth / max : 0;
        int height = TitleHeight + SubtitleHeight + BottomMargin
            + groups.Sum(g => GroupHeadingHeight + (series.Count * (BarHeight + BarGap)) + GroupGap);

        var svg = new StringBuilder();
        svg.Append(Invariant($"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{height}" viewBox="0 0 {Width} {height}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">"""))
            .AppendLine()
            .AppendLine(Invariant($"""  <rect width="{Width}" height="{height}" fill="#ffffff"/>"""))
            .AppendLine(Invariant($"""  <text x="12" y="22" font-size="16" font-weight="bold" fill="#111">{Escape(title)}</text>"""))
            .AppendLine(Invariant($"""  <text x="12" y="{TitleHeight + 6}" fill="#555">{Escape(subtitle)}</text>"""));

        int y = TitleHeight + SubtitleHeight;
        foreach (ChartGroup group in groups)
        {
            svg.AppendLine(Invariant($"""  <text x="12" y="{y + 16}" font-weight="bold" fill="#222">{Escape(group.Label)}</text>"""));
            svg.AppendLine(Invariant($"""  <line x1="{LabelWidth}" y1="{y + GroupHeadingHeight - 2}" x2="{LabelWidth}" y2="{y + GroupHeadingHeight + (series.Count * (BarHeight + BarGap))}" stroke="#999"/>"""));
            y += GroupHeadingHeight;
            for (int i = 0; i < series.Count; i++)
            {
                double? value = i < group.Values.Count ? group.Values[i] : null;
                int textY = y + BarHeight - 5;
                svg.AppendLine(Invariant($"""  <text x="{LabelWidth - 8}" y="{textY}" text-anchor="end" fill="#222">{Escape(series[i].Name)}</text>"""));
                if (value is double v)
                {
                    double barWidth = Math.Max(1, Math.Max(0, v) * scale);
                    svg.AppendLine(Invariant($"""  <rect x="{LabelWidth}" y="{y}" width="{barWidth:0.#}" height="{BarHeight}" fill="{series[i].Color}"/>"""));
                    svg.AppendLine(Invariant($"""  <text x="{LabelWidth + barWidth + 6:0.#}" y="{textY}" fill="#111">{Escape(format(v))}</text>"""));
                }
                else
                {
                    svg.AppendLine(Invariant($"""  <text x="{LabelWidth + 6}" y="{textY}" fill="#999">n/a</text>"""));
                }

                y += BarHeight + BarGap;
            }

            y += GroupGap;
        }

        return svg.AppendLine("</svg>").ToString();
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string Escape(string text) =>
        text.Replace("&", "&amp;", StringComparison.Ordinal)
            .Replace("<", "&lt;", StringComparison.Ordinal)
            .Replace(">", "&gt;", StringComparison.Ordinal)
            .Replace("\"", "&quot;", StringComparison.Ordinal);
}
