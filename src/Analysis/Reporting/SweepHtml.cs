using System.Globalization;
using System.Text;
using Shootdown.Analysis.Runs;
using Shootdown.Scenarios;
using static Shootdown.Analysis.Reporting.HtmlReport;

namespace Shootdown.Analysis.Reporting;

/// <summary>
/// <c>--report FILE.html</c> for a sweep: one self-contained page with a chart per headline
/// figure against the swept value, one line per policy through the medians and, over
/// replicates, a shaded band for each point's interval (or range, below six replicates). SVG is
/// drawn here, like the run report's: a page of a few line charts does not justify a charting
/// library, and nothing is fetched.
/// </summary>
public static class SweepHtml
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Render(ScenarioFile file, IReadOnlyList<SweepReport.Row> rows, Provenance provenance)
    {
        var first = rows[0].Set;
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        sb.Append(Inv, $"<title>Shootdown sweep: {E(first.Scenario.Name)}</title><style>").Append(Css).Append(SweepCss).Append("</style></head><body>\n");
        sb.Append(Inv, $"<h1>{E(first.Scenario.Name)}: sweep of {E(string.Join(", ", file.SweepParameters))}</h1>\n");
        if (first.Scenario.Description.Length > 0) sb.Append(Inv, $"<p class=\"description\">{E(first.Scenario.Description)}</p>\n");
        sb.Append(Inv, $"<p class=\"machine\">{rows.Count} points; {(first.Count == 1 ? "one run per point and policy" : E(ComparisonTable.IntervalNote(first.Count)))}; " +
                       $"engine {first.First.Engine.ToString().ToLowerInvariant()}</p>\n");
        var axis = Axis.For(file, rows);
        sb.Append("<div class=\"cdfs\">\n");
        foreach (var key in SweepReport.FigureKeys.Where(k => SweepReport.FigureOf(first, k) is not null))
            Chart(sb, key, SweepReport.FigureOf(first, key)!.Label, rows, axis, (set, p) => SweepReport.FigureOf(set, key) is { } f && f.Over(set, p) is { } e
                ? (e.Median, e.Low, e.High) : null);
        if (SweepReport.KeyType(rows) is { } type)
        {
            var mean = Figures.OfOperation(type).First(f => f.Key.EndsWith(".latency_mean_us", StringComparison.Ordinal));
            Chart(sb, mean.Key, $"{Headline.OperationName(type)} {mean.Label}", rows, axis,
                (set, p) => mean.Over(set, p) is { } e ? (e.Median, e.Low, e.High) : null);
            // Pooled percentiles have no interval: a line without a band, p99 where supported, else the max.
            Chart(sb, $"{Headline.OperationName(type)}.latency_tail_us", $"{Headline.OperationName(type)} latency p99 µs (max where fewer than 100 operations: hollow)", rows, axis,
                (set, p) => PooledLatency.Of(set, p, type) is { } l ? ((l.P99Ns ?? l.MaxNs) / 1000.0, double.NaN, double.NaN) : null,
                hollow: (set, p) => PooledLatency.Of(set, p, type) is { P99Ns: null });
        }
        sb.Append("</div>\n");
        sb.Append("<h2>How this was run</h2>\n<table class=\"run\">");
        void Row(string label, string value) => sb.Append(Inv, $"<tr><th>{label}</th><td>{value}</td></tr>");
        Row("Shootdown", E(Provenance.Build));
        if (provenance.CommandLine.Length > 0) Row("command", $"<code id=\"command-line\">{E(provenance.CommandLine)}</code>");
        if (!provenance.Overrides.IsEmpty) Row("overrides", $"<code>{E(string.Join("  ", provenance.Overrides))}</code>");
        foreach (var row in rows)
            Row($"point {row.Point + 1}", $"{E(file.Settings(row.Values))}; seeds {E(string.Join(", ", row.Set.Seeds))}; " +
                                          $"SHA-256 <code>{Provenance.DefinitionHash(row.Set.Scenario)}</code>");
        sb.Append("</table>\n</body></html>\n");
        return sb.ToString();
    }

    /// <summary>
    /// The x axis: the first swept parameter's values where they are all numbers (logarithmic
    /// where they are positive and span a factor of eight or more, as a geometric sweep does),
    /// else the points in order, labelled with their values.
    /// </summary>
    private sealed record Axis(double[] X, bool Log, bool Numeric, string Title, string[] Labels)
    {
        public static Axis For(ScenarioFile file, IReadOnlyList<SweepReport.Row> rows)
        {
            var labels = rows.Select(r => r.Values[0]).ToArray();
            var numbers = labels.Select(v => double.TryParse(v, NumberStyles.Float, Inv, out var d) ? d : double.NaN).ToArray();
            var numeric = numbers.All(double.IsFinite) && numbers.Distinct().Count() == numbers.Length;
            var x = numeric ? numbers : [.. Enumerable.Range(1, rows.Count).Select(i => (double)i)];
            var log = numeric && x.Min() > 0 && x.Max() / x.Min() >= 8;
            return new Axis(x, log, numeric, file.SweepParameters[0] + (log ? " (log)" : ""), labels);
        }

        public double Position(int i) => Log ? Math.Log(X[i]) : X[i];
    }

    private static void Chart(StringBuilder sb, string key, string title, IReadOnlyList<SweepReport.Row> rows, Axis axis,
        Func<ReplicateSet, int, (double Median, double Low, double High)?> value, Func<ReplicateSet, int, bool>? hollow = null)
    {
        var policies = rows[0].Set.Policies;
        const int w = 520, h = 280, left = 64, bottom = 44, top = 14, right = 20;
        var points = policies.Select((_, p) => rows.Select((r, i) => (I: i, V: value(r.Set, p), Hollow: hollow?.Invoke(r.Set, p) ?? false)).Where(v => v.V is not null)
            .Select(v => (v.I, v.V!.Value, v.Hollow)).ToList()).ToList();
        var highest = points.SelectMany(s => s.SelectMany(v => new[] { v.Value.Median, v.Value.High })).Where(double.IsFinite).DefaultIfEmpty(0).Max();
        var (yMax, step) = NiceAxis(highest);
        var (x0, x1) = (Enumerable.Range(0, rows.Count).Min(axis.Position), Enumerable.Range(0, rows.Count).Max(axis.Position));
        double X(int i) => rows.Count == 1 || x1 == x0 ? (left + w - right) / 2.0 : left + (axis.Position(i) - x0) / (x1 - x0) * (w - left - right);
        double Y(double v) => top + (1 - v / yMax) * (h - top - bottom);
        sb.Append(Inv, $"<figure class=\"sweep-chart\" data-figure=\"{E(key)}\"><figcaption>{E(title)}</figcaption>");
        sb.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">");
        for (var v = 0.0; v <= yMax * 1.0001; v += step)
        {
            sb.Append(Inv, $"<line class=\"grid\" x1=\"{left}\" x2=\"{w - right}\" y1=\"{Y(v):0.#}\" y2=\"{Y(v):0.#}\"/>" +
                           $"<text x=\"{left - 4}\" y=\"{Y(v) + 4:0.#}\" text-anchor=\"end\">{Tick(v)}</text>");
        }
        for (var i = 0; i < rows.Count; i++)
        {
            // Labels thinned so that they do not overlap: about one per 60 px.
            if (rows.Count > 8 && i % (int)Math.Ceiling(rows.Count * 60.0 / (w - left - right)) != 0 && i != rows.Count - 1) continue;
            var anchor = i == rows.Count - 1 && rows.Count > 1 ? "end" : i == 0 && rows.Count > 1 ? "start" : "middle";
            sb.Append(Inv, $"<text x=\"{X(i):0.#}\" y=\"{h - bottom + 14}\" text-anchor=\"{anchor}\">{E(Shorten(axis.Labels[i]))}</text>");
        }
        sb.Append(Inv, $"<text x=\"{(left + w - right) / 2}\" y=\"{h - 6}\" text-anchor=\"middle\">{E(axis.Title)}</text>");
        for (var p = 0; p < policies.Count; p++)
        {
            var colour = PolicyColours[p % PolicyColours.Length];
            var series = points[p];
            if (series.Count == 0) continue;
            var banded = series.Where(s => double.IsFinite(s.Value.Low)).ToList();
            if (banded.Count > 0 && rows[0].Set.Count > 1)
            {
                // The band: along the highs left to right, back along the lows.
                var band = string.Join(" ", banded.Select(s => $"{X(s.I):0.#},{Y(s.Value.High):0.#}")
                    .Concat(banded.AsEnumerable().Reverse().Select(s => $"{X(s.I):0.#},{Y(s.Value.Low):0.#}")));
                sb.Append(Inv, $"<polygon class=\"band\" data-policy=\"{E(policies[p])}\" points=\"{band}\" fill=\"{colour}\" fill-opacity=\"0.18\" stroke=\"none\"/>");
            }
            var dash = p == 0 ? "" : $" stroke-dasharray=\"{6 + 2 * p} {3 + 2 * p}\"";
            sb.Append(Inv, $"<polyline class=\"line\" data-policy=\"{E(policies[p])}\" stroke=\"{colour}\"{dash} points=\"{string.Join(" ", series.Select(s => $"{X(s.I):0.#},{Y(s.Value.Median):0.#}"))}\"/>");
            foreach (var s in series)
            {
                var interval = double.IsFinite(s.Value.Low) && rows[0].Set.Count > 1 ? $" [{Tick(s.Value.Low)}–{Tick(s.Value.High)}]" : "";
                sb.Append(Inv, $"<circle class=\"point\" cx=\"{X(s.I):0.#}\" cy=\"{Y(s.Value.Median):0.#}\" r=\"3.5\" " +
                               $"fill=\"{(s.Hollow ? "#fff" : colour)}\" stroke=\"{colour}\"><title>{E(policies[p])}, {E(axis.Labels[s.I])}: {Tick(s.Value.Median)}{interval}</title></circle>");
            }
        }
        sb.Append("</svg><div class=\"legend\">");
        for (var p = 0; p < policies.Count; p++)
            sb.Append(Inv, $"<span><i style=\"background:{PolicyColours[p % PolicyColours.Length]}\"></i>{E(policies[p])}</span>");
        sb.Append("</div></figure>\n");
    }

    /// <summary>An axis from 0 to a round number at or above <paramref name="highest"/>, in 3 to 6 steps of 1, 2 or 5 × 10ᵏ.</summary>
    private static (double Max, double Step) NiceAxis(double highest)
    {
        if (highest <= 0) return (1, 0.25);
        var raw = highest / 5;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = new[] { 1.0, 2, 5, 10 }.Select(m => m * magnitude).First(s => s >= raw);
        return (Math.Ceiling(highest / step) * step, step);
    }

    private static string Tick(double v) =>
        Math.Abs(v) >= 1e6 ? (v / 1e6).ToString("0.##", Inv) + "M" : Math.Abs(v) >= 1e4 ? (v / 1e3).ToString("0.#", Inv) + "k" : v.ToString(Math.Abs(v) >= 100 ? "N0" : "0.##", Inv);

    private static string Shorten(string s) => s.Length <= 14 ? s : s[..13] + "…";

    private const string SweepCss = ".sweep-chart polyline{fill:none;stroke-width:2}.point:hover{stroke-width:3}";
}
