using System.Globalization;
using System.Text;
using Shootdown.Analysis.Runs;
using Shootdown.Model.Statistics;
using Shootdown.Model.Workload;
using Shootdown.Scenarios;
using static Shootdown.Analysis.Reporting.Headline;

namespace Shootdown.Analysis.Reporting;

/// <summary>
/// A sweep's results, one row per point and policy: the swept values, the machine size, and the
/// figures that move with them (IPIs sent, collateral IPIs, interrupts per CPU per second, the
/// real-time CPUs' interrupts, each a median with its interval over the point's replicates, and
/// the key operation's pooled latency percentiles). The CSV has every column in full; the terminal
/// table fits 100 columns.
/// </summary>
public static class SweepReport
{
    /// <summary>One point: its swept values and its replicates.</summary>
    public sealed record Row(int Point, IReadOnlyList<string> Values, ReplicateSet Set);

    /// <summary>The figures a sweep follows, by their keys in <see cref="Figures"/>.</summary>
    public static readonly string[] FigureKeys = ["csds_queued", "collateral_ipis", "interrupts_per_cpu_per_s", "rt_interrupts"];

    /// <summary>The figure of <paramref name="key"/> at one point (null where the point has none, such as RT figures without RT CPUs).</summary>
    public static Figure? FigureOf(ReplicateSet set, string key) => Figures.All(set).FirstOrDefault(f => f.Key == key);

    /// <summary>The operation whose latency the sweep follows: the one the policies differ on, at the first point.</summary>
    public static OpType? KeyType(IReadOnlyList<Row> rows) => rows.Select(r => KeyOperation(r.Set.First.Runs[0].Result)).FirstOrDefault(t => t is not null);

    public static string Csv(ScenarioFile file, IReadOnlyList<Row> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        var columns = new List<string> { "point" };
        columns.AddRange(file.SweepParameters);
        columns.AddRange(["cpus", "policy", "replicates"]);
        foreach (var key in FigureKeys) columns.AddRange([key, $"{key}_low", $"{key}_high"]);
        columns.AddRange(["operation", "latency_n", "latency_p50_us", "latency_p99_us", "latency_max_us"]);
        sb.AppendJoin(',', columns.Select(Quote)).Append('\n');
        var type = KeyType(rows);
        foreach (var row in rows)
        for (var p = 0; p < row.Set.Policies.Count; p++)
        {
            var cells = new List<string> { (row.Point + 1).ToString(inv) };
            cells.AddRange(row.Values);
            cells.AddRange([row.Set.Scenario.Machine.CpuCount.ToString(inv), row.Set.Policies[p], row.Set.Count.ToString(inv)]);
            foreach (var key in FigureKeys)
            {
                var e = FigureOf(row.Set, key)?.Over(row.Set, p);
                cells.AddRange(e is null ? ["", "", ""] : [e.Median.ToString("R", inv), e.Low.ToString("R", inv), e.High.ToString("R", inv)]);
            }
            var latency = type is { } t ? PooledLatency.Of(row.Set, p, t) : null;
            cells.AddRange(latency is null
                ? [type is { } tt ? OperationName(tt) : "", "0", "", "", ""]
                : [OperationName(latency.Type), latency.N.ToString(inv), Us(latency.P50Ns), Us(latency.P99Ns), Us(latency.MaxNs)]);
            sb.AppendJoin(',', cells.Select(Quote)).Append('\n');
        }
        return sb.ToString();

        static string Us(long? ns) => ns is { } v ? (v / 1000.0).ToString("R", CultureInfo.InvariantCulture) : "";
    }

    /// <summary>The terminal's table width.</summary>
    public const int Width = 100;

    /// <summary>
    /// The sweep in the terminal: plain columns two spaces apart, one row per point and policy.
    /// The first swept parameter stands for the point (others move in lockstep and are in the
    /// CSV); counts are shortened to three digits (k, M), which the CSV does not do.
    /// </summary>
    public static void Write(TextWriter output, ScenarioFile file, IReadOnlyList<Row> rows)
    {
        var first = rows[0].Set;
        var lockstep = file.SweepParameters.Length > 1 ? $" (with {string.Join(", ", file.SweepParameters.Skip(1))} in lockstep)" : "";
        foreach (var line in Wrap($"{first.Scenario.Name}: sweep of {file.SweepParameters[0]}{lockstep}, {rows.Count} points, " +
                                  $"engine {first.First.Engine.ToString().ToLowerInvariant()}"))
            output.WriteLine(line);
        if (first.Count > 1) output.WriteLine(ComparisonTable.IntervalNote(first.Count));
        var type = KeyType(rows);
        var hasRt = first.Scenario.Workload.RealtimeCpus.Length > 0;
        // The swept field's own name heads its column (machine.scale: scale); the title names the whole path.
        var header = new List<string> { "point", Shorten(file.SweepParameters[0].Split('.')[^1], 14), "policy", "collateral IPIs", "irqs/s per CPU" };
        if (type is { } t0) header.Add($"{OperationName(t0)} µs");
        if (hasRt) header.Add("RT irqs");
        var table = new List<string[]> { header.ToArray() };
        foreach (var row in rows)
        for (var p = 0; p < row.Set.Policies.Count; p++)
        {
            string Cell(string key) => FigureOf(row.Set, key) is { } f ? Compact(f, f.Over(row.Set, p), row.Set.Count) : "-";
            var cells = new List<string>
            {
                p == 0 ? (row.Point + 1).ToString(CultureInfo.InvariantCulture) : "",
                p == 0 ? Shorten(row.Values[0], 14) : "",
                row.Set.Policies[p], Cell("collateral_ipis"), Cell("interrupts_per_cpu_per_s"),
            };
            if (type is { } t)
                cells.Add(PooledLatency.Of(row.Set, p, t) is { } l ? l.P99Ns is { } p99 ? $"p99 {Us(p99)}" : $"max {Us(l.MaxNs)}" : "-");
            if (hasRt) cells.Add(Cell("rt_interrupts"));
            table.Add(cells.ToArray());
        }
        var widths = Enumerable.Range(0, header.Count).Select(i => table.Max(r => r[i].Length)).ToArray();
        foreach (var r in table)
            output.WriteLine(string.Join("  ", r.Select((cell, i) => i is 1 or 2 ? cell.PadRight(widths[i]) : cell.PadLeft(widths[i]))).TrimEnd());
        if (type is { } tt)
            output.WriteLine($"{OperationName(tt)} µs: p99 pooled over replicates from {Percentiles.MinSamples(0.99)} operations, else max; n in sweep.csv");
    }

    /// <summary>A cell of the terminal table: like <see cref="Figure.Cell"/>, with counts shortened to three digits.</summary>
    private static string Compact(Figure f, MedianEstimate? e, int replicates)
    {
        if (e is null) return "-";
        string Short(double v) => f.Unit is FigureUnit.Count or FigureUnit.PerSecond ? ThreeDigits(v) : f.Format(v);
        if (e.N == 1 && replicates == 1 || e.Low == e.High && e.N == replicates) return Short(e.Median);
        var (open, close) = e.HasInterval ? ("[", "]") : ("(", ")");
        return $"{Short(e.Median)} {open}{Short(e.Low)}–{Short(e.High)}{close}";
    }

    /// <summary>Three significant digits, with k, M or G from a thousand up: 162k, 1.28k, 62.5, 0.875.</summary>
    private static string ThreeDigits(double v)
    {
        if (v == 0) return "0";
        var (scaled, suffix) = Math.Abs(v) >= 1e9 ? (v / 1e9, "G") : Math.Abs(v) >= 1e6 ? (v / 1e6, "M") : Math.Abs(v) >= 1e3 ? (v / 1e3, "k") : (v, "");
        var format = Math.Abs(scaled) >= 100 ? "0" : Math.Abs(scaled) >= 10 ? "0.0" : Math.Abs(scaled) >= 1 ? "0.00" : "0.000";
        return scaled.ToString(format, CultureInfo.InvariantCulture) + suffix;
    }

    /// <summary>Breaks <paramref name="text"/> at spaces into lines of at most <see cref="Width"/> columns, the later ones indented.</summary>
    private static IEnumerable<string> Wrap(string text)
    {
        var line = "";
        foreach (var word in text.Split(' '))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > Width)
            {
                yield return line;
                line = " ";
            }
            line = line.Length == 0 ? word : $"{line} {word}";
        }
        if (line.Length > 0) yield return line;
    }

    private static string Shorten(string s, int max) => s.Length <= max ? s : s[..(max - 1)] + "…";

    private static string Quote(string s) => s.Contains(',') || s.Contains('"') ? $"\"{s.Replace("\"", "\"\"")}\"" : s;
}
