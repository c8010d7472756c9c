using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace CMap.Compare;

internal enum AxisScale
{
    Linear,
    Log,
}

/// <summary>One cluster of bars: a metric, with one figure per series (null where a store has no figure).</summary>
internal sealed record ChartGroup(string Label, IReadOnlyList<Spread?> Values);

/// <summary>A bar's label and fill colour, the same in every group.</summary>
internal sealed record ChartSeries(string Name, string Color);

/// <summary>
/// A horizontal bar chart: per group a heading and one bar per series. A bar runs from <see cref="Origin"/> (0 on a
/// linear axis, the left edge on a log axis unless given, e.g. 1 for ratios) to the median; a whisker spans the
/// min–max over rounds. <see cref="Label"/> writes the text after each bar.
/// </summary>
internal sealed record ChartSpec(
    string Title,
    string Subtitle,
    IReadOnlyList<ChartSeries> Series,
    IReadOnlyList<ChartGroup> Groups,
    Func<double, string> Format,
    AxisScale Scale,
    Func<Spread, string> Label,
    double? Origin = null);

/// <summary>A small SVG writer for <see cref="ChartSpec"/>: no dependencies, renders the same everywhere.</summary>
internal static class SvgChart
{
    private const int Width = 920;
    private const int LabelWidth = 190;
    private const int PlotWidth = 470;
    private const int BarHeight = 16;
    private const int BarGap = 5;
    private const int GroupHeadingHeight = 22;
    private const int GroupGap = 10;
    private const int TopHeight = 62;
    private const int AxisHeight = 30;

    public static string Render(ChartSpec spec)
    {
        Axis axis = Axis.For(spec);
        int groupHeight(ChartGroup _) => GroupHeadingHeight + (spec.Series.Count * (BarHeight + BarGap)) + GroupGap;
        int plotBottom = TopHeight + spec.Groups.Sum(groupHeight);
        int height = plotBottom + AxisHeight;

        var svg = new StringBuilder();
        svg.Append(Invariant($"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{height}" viewBox="0 0 {Width} {height}" font-family="DejaVu Sans, system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">"""))
            .AppendLine()
            .AppendLine(Invariant($"""  <rect width="{Width}" height="{height}" fill="#ffffff"/>"""))
            .AppendLine(Invariant($"""  <text x="12" y="22" font-size="16" font-weight="bold" fill="#111">{Escape(spec.Title)}</text>"""))
            .AppendLine(Invariant($"""  <text x="12" y="42" fill="#555">{Escape(spec.Subtitle)}</text>"""));

        // Grid and tick labels.
        foreach (double tick in axis.Ticks)
        {
            double x = axis.X(tick);
            bool origin = spec.Origin is double o && Math.Abs(tick - o) < 1e-12;
            svg.AppendLine(Invariant($"""  <line x1="{x:0.#}" y1="{TopHeight - 6}" x2="{x:0.#}" y2="{plotBottom}" stroke="{(origin ? "#555" : "#e2e2e2")}" stroke-width="{(origin ? 1.2 : 1)}"/>"""));
            svg.AppendLine(Invariant($"""  <text x="{x:0.#}" y="{plotBottom + 16}" text-anchor="middle" fill="#555" font-size="11">{Escape(spec.Format(tick))}</text>"""));
        }

        svg.AppendLine(Invariant($"""  <text x="{LabelWidth + (PlotWidth / 2)}" y="{plotBottom + 28}" text-anchor="middle" fill="#777" font-size="10">{(spec.Scale == AxisScale.Log ? "log scale" : "linear scale")}; bar: median over rounds; whisker: min–max</text>"""));

        int y = TopHeight;
        foreach (ChartGroup group in spec.Groups)
        {
            svg.AppendLine(Invariant($"""  <text x="12" y="{y + 15}" font-weight="bold" fill="#222">{Escape(group.Label)}</text>"""));
            y += GroupHeadingHeight;
            for (int i = 0; i < spec.Series.Count; i++)
            {
                Spread? value = i < group.Values.Count ? group.Values[i] : null;
                int textY = y + BarHeight - 4;
                double centre = y + (BarHeight / 2.0);
                svg.AppendLine(Invariant($"""  <text x="{LabelWidth - 8}" y="{textY}" text-anchor="end" fill="#222">{Escape(spec.Series[i].Name)}</text>"""));
                if (value is null)
                {
                    svg.AppendLine(Invariant($"""  <text x="{LabelWidth + 6}" y="{textY}" fill="#999">n/a</text>"""));
                }
                else if (!axis.CanShow(value.Median))
                {
                    svg.AppendLine(Invariant($"""  <text x="{LabelWidth + 6}" y="{textY}" fill="#111">{Escape(spec.Label(value))}</text>"""));
                }
                else
                {
                    double from = axis.X(axis.Origin);
                    double to = axis.X(value.Median);
                    double left = Math.Min(from, to);
                    double barWidth = Math.Max(1, Math.Abs(to - from));
                    svg.AppendLine(Invariant($"""  <rect x="{left:0.#}" y="{y}" width="{barWidth:0.#}" height="{BarHeight}" fill="{spec.Series[i].Color}"/>"""));
                    double right = Math.Max(from, to);
                    if (value.Max > value.Min && axis.CanShow(value.Min))
                    {
                        double x1 = axis.X(value.Min);
                        double x2 = axis.X(value.Max);
                        right = Math.Max(right, x2);
                        svg.AppendLine(Invariant($"""  <line x1="{x1:0.#}" y1="{centre:0.#}" x2="{x2:0.#}" y2="{centre:0.#}" stroke="#222" stroke-width="1.3"/>"""));
                        svg.AppendLine(Invariant($"""  <line x1="{x1:0.#}" y1="{centre - 5:0.#}" x2="{x1:0.#}" y2="{centre + 5:0.#}" stroke="#222" stroke-width="1.3"/>"""));
                        svg.AppendLine(Invariant($"""  <line x1="{x2:0.#}" y1="{centre - 5:0.#}" x2="{x2:0.#}" y2="{centre + 5:0.#}" stroke="#222" stroke-width="1.3"/>"""));
                    }

                    svg.AppendLine(Invariant($"""  <text x="{right + 6:0.#}" y="{textY}" fill="#111">{Escape(spec.Label(value))}</text>"""));
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

    /// <summary>Maps figures to x positions over the plot area, with gridline positions.</summary>
    private sealed class Axis
    {
        private readonly AxisScale _scale;
        private readonly double _low;
        private readonly double _high;

        private Axis(AxisScale scale, double low, double high, double origin, IReadOnlyList<double> ticks)
        {
            _scale = scale;
            _low = low;
            _high = high;
            Origin = origin;
            Ticks = ticks;
        }

        public double Origin { get; }

        public IReadOnlyList<double> Ticks { get; }

        public static Axis For(ChartSpec spec)
        {
            double[] values = spec.Groups.SelectMany(g => g.Values).Where(v => v is not null).SelectMany(v => new[] { v!.Median, v.Min, v.Max }).ToArray();
            if (spec.Scale == AxisScale.Log)
            {
                double[] positive = values.Where(v => v > 0).Concat(spec.Origin is double o ? [o] : []).ToArray();
                double low = positive.Length == 0 ? 1 : Math.Pow(10, Math.Floor(Math.Log10(positive.Min())));
                double high = positive.Length == 0 ? 10 : Math.Pow(10, Math.Ceiling(Math.Log10(positive.Max())));
                if (high <= low)
                {
                    high = low * 10;
                }

                int decades = (int)Math.Round(Math.Log10(high / low));
                var ticks = new List<double>();
                for (double t = low; t <= high * 1.0001; t *= 10)
                {
                    ticks.Add(t);
                    if (decades <= 2 && t * 10 <= high * 1.0001)
                    {
                        ticks.Add(t * 2);
                        ticks.Add(t * 5);
                    }
                }

                return new Axis(AxisScale.Log, low, high, spec.Origin ?? low, ticks);
            }

            double min = Math.Min(0, values.DefaultIfEmpty(0).Min());
            double max = Math.Max(spec.Origin ?? 0, values.DefaultIfEmpty(1).Max());
            double step = NiceStep((max - min) / 5);
            double lowLinear = Math.Floor(min / step) * step;
            double highLinear = Math.Max(lowLinear + step, Math.Ceiling(max / step) * step);
            var linearTicks = new List<double>();
            for (double t = lowLinear; t <= highLinear + (step / 2); t += step)
            {
                linearTicks.Add(Math.Round(t / step) * step);
            }

            return new Axis(AxisScale.Linear, lowLinear, highLinear, spec.Origin ?? 0, linearTicks);
        }

        public bool CanShow(double value) => _scale == AxisScale.Linear || value > 0;

        public double X(double value)
        {
            double f = _scale == AxisScale.Log
                ? (Math.Log10(Math.Max(value, _low)) - Math.Log10(_low)) / (Math.Log10(_high) - Math.Log10(_low))
                : (value - _low) / (_high - _low);
            return LabelWidth + (Math.Clamp(f, 0, 1) * PlotWidth);
        }

        private static double NiceStep(double rough)
        {
            if (rough <= 0 || !double.IsFinite(rough))
            {
                return 1;
            }

            double magnitude = Math.Pow(10, Math.Floor(Math.Log10(rough)));
            double residual = rough / magnitude;
            return magnitude * (residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 5 ? 5 : 10);
        }
    }
}
