using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Shootdown.Analysis.Runs;
using Shootdown.Model.Results;
using Shootdown.Model.Simulation;
using Shootdown.Model.Statistics;
using Shootdown.Model.Topology;
using Shootdown.Scenarios;
using static Shootdown.Analysis.Reporting.Headline;
using Shootdown.Model.Kernel;

namespace Shootdown.Analysis.Reporting;

/// <summary>
/// <c>--report FILE.html</c>: one self-contained page (inline CSS, SVG drawn here, a few lines of
/// script for tooltips; nothing fetched): the headline, the comparison table (medians and
/// intervals over replicates), log2 histograms, where the time goes, a per-CPU heatmap of
/// interrupts received laid out by NUMA node and package with the policies side by side, the
/// IPIs over virtual time, flush and sync interrupts per target, the initiator-latency CDFs, the
/// real-time noise table, and how the run was made (build, command line, run id,
/// a hash of the scenario's definition, seeds, platform, kernel config, costs).
/// </summary>
public static class HtmlReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    internal static readonly string[] PolicyColours = ["#d1495b", "#00798c", "#edae49", "#66a182", "#2e4057", "#8d96a3"];

    public static string Render(ReplicateSet set, Provenance provenance)
    {
        var c = set.First;
        var m = c.Scenario.Machine;
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        sb.Append(Inv, $"<title>Shootdown: {E(c.Scenario.Name)}</title>");
        sb.Append("<style>").Append(Css).Append("</style></head><body>\n");
        sb.Append(Inv, $"<h1>{E(c.Scenario.Name)}</h1>\n");
        if (c.Scenario.Description.Length > 0) sb.Append(Inv, $"<p class=\"description\">{E(c.Scenario.Description)}</p>\n");
        var seeds = set.Count == 1 ? $"seed {c.Scenario.Seed}" : $"{set.Count} replicates (seeds {ComparisonTable.SeedList(set)})";
        sb.Append(Inv, $"<p class=\"machine\">{m.CpuCount:N0} CPUs, {m.PackageCount} packages, {m.NodeCount} NUMA nodes ({E(m.Name)}); " +
                       $"{Us(c.Scenario.DurationNs)} µs of virtual time; {seeds}; engine {c.Engine.ToString().ToLowerInvariant()}</p>\n");
        sb.Append(Inv, $"<p class=\"headline\" id=\"headline\">{E(For(set))}</p>\n");
        Comparison(sb, set);
        Histograms(sb, set);
        WhereTheTimeGoes(sb, set);
        if (set.Count > 1)
            sb.Append(Inv, $"<p class=\"note\" id=\"one-replicate\">The per-CPU views below show one replicate, the first (seed {c.Scenario.Seed}); the latency CDFs pool all {set.Count}.</p>\n");
        Heatmaps(sb, c);
        IpisOverTime(sb, c);
        FlushAndSyncPerTarget(sb, c);
        Cdfs(sb, set);
        Realtime(sb, c);
        RunDetails(sb, set, provenance);
        sb.Append("<div id=\"tip\" role=\"tooltip\"></div>\n<script>").Append(Script).Append("</script>\n</body></html>\n");
        return sb.ToString();
    }

    /// <summary>A plain run's report, made inside a program.</summary>
    public static string Render(Comparison c) => Render(ReplicateSet.Of(c), Provenance.InProcess);

    private static void Comparison(StringBuilder sb, ReplicateSet set)
    {
        var c = set.First;
        sb.Append("<h2>Comparison</h2>\n");
        if (set.Count > 1) sb.Append(Inv, $"<p class=\"note\" id=\"interval-note\">{E(ComparisonTable.IntervalNote(set.Count))}.</p>\n");
        sb.Append("<table class=\"comparison\"><thead><tr><th></th>");
        foreach (var policy in set.Policies) sb.Append(Inv, $"<th>{E(policy)}</th>");
        sb.Append("</tr></thead><tbody>\n");
        foreach (var row in ComparisonTable.Rows(set))
        {
            if (row is null)
            {
                sb.Append(Inv, $"<tr class=\"gap\"><td colspan=\"{set.Policies.Count + 1}\"></td></tr>\n");
                continue;
            }
            var label = row.Bold ? $"<b>{E(row.Label)}</b>{E(row.Suffix)}" : E(row.Label + row.Suffix);
            sb.Append(Inv, $"<tr><th class=\"{(row.Indent.Length > 0 ? "sub" : "")}\">{label}</th>");
            foreach (var cell in row.Cells) sb.Append(Inv, $"<td>{E(cell)}</td>");
            sb.Append("</tr>\n");
        }
        sb.Append("</tbody></table>\n");
        if (ComparisonTable.PercentileNote(set) is { } note) sb.Append(Inv, $"<p class=\"note\" id=\"percentile-note\">{E(note)}</p>\n");
        foreach (var r in set.Replicates)
        foreach (var run in r.Runs)
            sb.Append(Inv, $"<p class=\"digest\">{(set.Count > 1 ? $"seed {r.Scenario.Seed} " : "")}digest {E(run.Result.Policy)} <code>{run.Result.Digest}</code></p>\n");
        if (c.Runs.Any(r => r.Result.Safety is not null))
        {
            sb.Append("<h2>Lockless-walker safety</h2>\n<ul class=\"safety\">\n");
            foreach (var line in ComparisonTable.SafetyLines(c, perPolicy: 10)) sb.Append(Inv, $"<li>{E(line.Trim())}</li>\n");
            sb.Append("</ul>\n");
        }
    }

    /// <summary>
    /// Log2 histograms, as bpftrace's hist() buckets them, pooled over every replicate: operation
    /// latency per type, and call-function interrupts per CPU. Bars of the policies stand side by
    /// side in each bucket; the y axis counts samples.
    /// </summary>
    private static void Histograms(StringBuilder sb, ReplicateSet set)
    {
        sb.Append("<h2>Distributions</h2>\n<p class=\"note\">Power-of-two buckets (bpftrace's hist()), pooled over every replicate. " +
                  "Latency counts operations by their virtual ns; interrupts count CPUs by how many interrupts each took.</p>\n<div class=\"cdfs\">\n");
        foreach (var type in Figures.OperationTypes(set))
            HistogramChart(sb, $"{OperationName(type)} latency (ns)", $"latency-{OperationName(type)}",
                set.Policies.Select((_, p) => Log2Histogram.Of(set.Replicates.SelectMany(c => c.Runs[p].Result.Ops.Where(o => o.Type == type).Select(o => o.LatencyNs)))).ToList(),
                set.Policies, "operations");
        HistogramChart(sb, "interrupts per CPU", "interrupts-per-cpu",
            set.Policies.Select((_, p) => Log2Histogram.Of(set.Replicates.SelectMany(c => c.Runs[p].Result.Cpus.Select(x => x.Cal)))).ToList(),
            set.Policies, "CPUs");
        sb.Append("</div>\n");
    }

    /// <summary>
    /// Stacked bars, one per policy: each operation type's mean latency split into its parts, and
    /// the CPUs' time spent for interrupts (all CPUs, then the real-time ones) split likewise.
    /// Each chart has one µs scale for its bars, so the policies compare by length.
    /// </summary>
    private static void WhereTheTimeGoes(StringBuilder sb, ReplicateSet set)
    {
        sb.Append("<h2>Where the time goes</h2>\n<p class=\"note\">Initiator: the sender's loop over the targets (cond_func, csd_lock(), llist_add()), " +
                  "the IPI sends, the func run locally (SCF_RUN_LOCAL), csd_lock_wait(), and the rest of the operation (a flush before the IPIs, " +
                  "an RCU grace period, interrupts it took); mean per operation, pooled over replicates. Targets: idle-state exits, interrupt " +
                  "entry and exit, handlers; summed over the CPUs, per run.</p>\n");
        string[] partColours = ["#2e4057", "#edae49", "#66a182", "#d1495b", "#8d96a3"];
        foreach (var type in Figures.OperationTypes(set))
            StackedBars(sb, $"time-{OperationName(type)}", $"{OperationName(type)}: mean latency", TimeBreakdown.OperationParts,
                set.Policies.Select((policy, p) => (policy, TimeBreakdown.Of(set, p, type)?.PartsNs)).ToList(), partColours);
        StackedBars(sb, "time-targets", "all CPUs: time spent for interrupts, per run", TimeBreakdown.TargetParts,
            set.Policies.Select((policy, p) => (policy, (double[]?)TimeBreakdown.OfTargets(set, p).PartsNs)).ToList(), partColours);
        var rt = set.Scenario.Workload.RealtimeCpus;
        if (rt.Length > 0)
            StackedBars(sb, "time-realtime", $"real-time CPUs ({rt.Length}): time spent for interrupts, per run", TimeBreakdown.TargetParts,
                set.Policies.Select((policy, p) => (policy, (double[]?)TimeBreakdown.OfTargets(set, p, rt).PartsNs)).ToList(), partColours);
    }

    private static void StackedBars(StringBuilder sb, string id, string title, string[] parts, IReadOnlyList<(string Policy, double[]? Ns)> bars, string[] colours)
    {
        var most = bars.Max(b => b.Ns?.Sum() ?? 0);
        if (most <= 0) return;
        const int w = 660, barHeight = 22, left = 90, right = 110;
        var h = bars.Count * (barHeight + 8) + 8;
        sb.Append(Inv, $"<figure class=\"stacked\" id=\"{E(id)}\"><figcaption>{E(title)}</figcaption>");
        sb.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">");
        for (var b = 0; b < bars.Count; b++)
        {
            var y = 8 + b * (barHeight + 8);
            sb.Append(Inv, $"<text x=\"{left - 6}\" y=\"{y + 15}\" text-anchor=\"end\">{E(bars[b].Policy)}</text>");
            if (bars[b].Ns is not { } ns) continue;
            double x = left;
            for (var k = 0; k < ns.Length; k++)
            {
                var width = ns[k] / most * (w - left - right);
                if (width > 0)
                    sb.Append(Inv, $"<rect class=\"part\" data-part=\"{E(parts[k])}\" data-policy=\"{E(bars[b].Policy)}\" x=\"{x:0.##}\" y=\"{y}\" width=\"{width:0.##}\" height=\"{barHeight}\" " +
                                   $"fill=\"{colours[k % colours.Length]}\"><title>{E(bars[b].Policy)}: {E(parts[k])} {Duration(ns[k])} ({100 * ns[k] / ns.Sum():0}%)</title></rect>");
                x += width;
            }
            sb.Append(Inv, $"<text x=\"{x + 6:0.#}\" y=\"{y + 15}\">{Duration(ns.Sum())}</text>");
        }
        sb.Append("</svg><div class=\"legend\">");
        for (var k = 0; k < parts.Length; k++) sb.Append(Inv, $"<span><i style=\"background:{colours[k % colours.Length]}\"></i>{E(parts[k])}</span>");
        sb.Append("</div></figure>\n");
    }

    /// <summary>Virtual ns in the unit that keeps the figure short: µs, ms or s.</summary>
    private static string Duration(double ns) =>
        ns >= 1e10 ? $"{ns / 1e9:N2} s" : ns >= 1e7 ? $"{ns / 1e6:N1} ms" : $"{ns / 1e3:N1} µs";

    private static void HistogramChart(StringBuilder sb, string title, string id, IReadOnlyList<Log2Histogram> histograms, IReadOnlyList<string> policies, string unit)
    {
        var buckets = histograms.SelectMany(h => h.Buckets().Select(b => (b.Low, b.High))).Distinct().OrderBy(b => b.Low).ToList();
        if (buckets.Count == 0) return;
        // The union of the policies' ranges, gaps included, so the x axis is one power of two per step.
        var lows = Enumerable.Range(0, 64).Select(k => k == 0 ? 0L : 1L << (k - 1)).Where(l => l >= buckets[0].Low && l <= buckets[^1].Low).ToList();
        var counts = histograms.Select(h => h.Buckets().ToDictionary(b => b.Low, b => b.Count)).ToList();
        var most = counts.Max(d => d.Values.DefaultIfEmpty(0).Max());
        const int h = 220, left = 56, bottom = 44, top = 12, right = 12;
        var slot = Math.Max(18, Math.Min(44, 640 / lows.Count));
        var w = left + right + slot * lows.Count;
        var bar = (slot - 4.0) / histograms.Count;
        double Y(double v) => top + (1 - v / most) * (h - top - bottom);
        sb.Append(Inv, $"<figure class=\"histogram\" id=\"hist-{E(id)}\"><figcaption>{E(title)}</figcaption>");
        sb.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">");
        foreach (var f in new[] { 0.0, 0.5, 1.0 })
            sb.Append(Inv, $"<line class=\"grid\" x1=\"{left}\" x2=\"{w - right}\" y1=\"{Y(f * most):0.#}\" y2=\"{Y(f * most):0.#}\"/><text x=\"{left - 4}\" y=\"{Y(f * most) + 4:0.#}\" text-anchor=\"end\">{f * most:N0}</text>");
        for (var i = 0; i < lows.Count; i++)
        {
            var x0 = left + i * slot + 2;
            for (var p = 0; p < histograms.Count; p++)
            {
                var n = counts[p].GetValueOrDefault(lows[i]);
                if (n == 0) continue;
                sb.Append(Inv, $"<rect class=\"bar\" x=\"{x0 + p * bar:0.#}\" y=\"{Y(n):0.#}\" width=\"{Math.Max(1, bar - 1):0.#}\" height=\"{Y(0) - Y(n):0.#}\" " +
                               $"fill=\"{PolicyColours[p % PolicyColours.Length]}\"><title>{E(policies[p])}: {n:N0} {unit} in {E(BucketLabel(lows[i]))}</title></rect>");
            }
            // Every other label where the buckets are narrow, so the labels do not overlap.
            if (slot >= 30 || i % 2 == 0)
                sb.Append(Inv, $"<text x=\"{x0 + (slot - 4) / 2.0:0.#}\" y=\"{h - bottom + 14}\" text-anchor=\"middle\">{E(Short(lows[i]))}</text>");
        }
        sb.Append(Inv, $"<text x=\"{(left + w - right) / 2}\" y=\"{h - 6}\" text-anchor=\"middle\">bucket from (log2)</text>");
        sb.Append("</svg><div class=\"legend\">");
        for (var p = 0; p < histograms.Count; p++)
            sb.Append(Inv, $"<span><i style=\"background:{PolicyColours[p % PolicyColours.Length]}\"></i>{E(policies[p])} (n={histograms[p].Total:N0})</span>");
        sb.Append("</div></figure>\n");

        static string BucketLabel(long low) => low <= 1 ? $"[{low}]" : $"[{low:N0}, {2 * low:N0})";
        static string Short(long v) => v >= 1L << 30 ? $"{v >> 30}G" : v >= 1L << 20 ? $"{v >> 20}M" : v >= 1L << 10 ? $"{v >> 10}K" : v.ToString(Inv);
    }

    /// <summary>
    /// One map per policy. CPUs are grouped by NUMA node, then package. On a machine of up to
    /// <see cref="PerCpuGroupsMax"/> groups each group is a block of cells in CPU order (SMT
    /// siblings are usually apart in Linux numbering: the block shows the kernel's view), labelled
    /// "node N · package P" or, when small, "nN pP". On a larger one each group is one cell,
    /// coloured by its CPUs' mean, on a grid whose rows are labelled with their first CPU; clicking
    /// a group opens its per-CPU cells below. One colour scale for all policies, logarithmic, so a
    /// quiet policy looks quiet.
    /// </summary>
    private static void Heatmaps(StringBuilder sb, Comparison c)
    {
        var m = c.Scenario.Machine;
        var max = c.Runs.Max(r => r.Result.Cpus.Max(x => x.Cal));
        var groups = Enumerable.Range(0, m.CpuCount).GroupBy(cpu => (Node: m.NodeOf(cpu), Package: m.PackageOf(cpu)))
            .OrderBy(g => g.Key.Node).ThenBy(g => g.Key.Package).Select(g => (g.Key, Cpus: g.ToList())).ToList();
        var overview = groups.Count > PerCpuGroupsMax;
        sb.Append("<h2>Interrupts received per CPU</h2>\n");
        var grouping = overview ? string.Create(Inv, $": one cell per group ({groups.Count} groups), coloured by its CPUs' mean; click a group for its CPUs") : "";
        sb.Append(Inv, $"<p class=\"note\">Call-function interrupts taken (CAL in /proc/interrupts) by each CPU, grouped by NUMA node and package{grouping}. " +
                       $"Colour scale is logarithmic, 0 to {max:N0} per CPU, shared by every policy; grey is none. Hover a cell for its counters.</p>\n");
        sb.Append("<div class=\"scale\"><span>0</span>");
        for (var i = 0; i <= 10; i++) sb.Append(Inv, $"<i style=\"background:{Colour(i / 10.0)}\"></i>");
        sb.Append(Inv, $"<span>{max:N0}</span></div>\n<div class=\"heatmaps\">\n");
        foreach (var run in c.Runs)
        {
            var r = run.Result;
            sb.Append(Inv, $"<figure class=\"heatmap\" data-policy=\"{E(r.Policy)}\"><figcaption>{E(r.Policy)}: {N(r.TotalInterrupts)} interrupts</figcaption>");
            if (overview)
            {
                GroupOverview(sb, m, groups, r, max);
                sb.Append("<div class=\"drill\"><p class=\"note drill-title\"></p>");
                // Each group's CPUs in an HTML element the page shows on a click: `hidden` on an <svg> itself hides nothing.
                for (var g = 0; g < groups.Count; g++)
                {
                    sb.Append(Inv, $"<div class=\"detail\" data-group=\"{g}\" hidden>");
                    PerCpuBlocks(sb, m, [groups[g]], r, max);
                    sb.Append("</div>");
                }
                sb.Append("</div>");
            }
            else
            {
                PerCpuBlocks(sb, m, groups, r, max);
            }
            sb.Append("</figure>\n");
        }
        sb.Append("</div>\n");
    }

    /// <summary>Above this many (node, package) groups the map shows one cell per group, with the CPUs a click away.</summary>
    private const int PerCpuGroupsMax = 64;

    /// <summary>The groups as blocks of per-CPU cells, flowing left to right within about 640 px.</summary>
    private static void PerCpuBlocks(StringBuilder sb, Machine m, IReadOnlyList<((int Node, int Package) Key, List<int> Cpus)> groups, PolicyResult r, long max)
    {
        var cell = m.CpuCount <= 256 ? 14 : m.CpuCount <= 2048 ? 8 : 5;
        if (groups.Count == 1) cell = 14;
        var largest = groups.Max(g => g.Cpus.Count);
        var columns = Math.Min(largest, Math.Max(8, 640 / cell));
        var blockWidth = Math.Max(columns * cell, 64);
        const int labelHeight = 14, gap = 10, maxWidth = 640;
        var perRow = Math.Max(1, (maxWidth + gap) / (blockWidth + gap));
        var blockHeight = labelHeight + (largest + columns - 1) / columns * cell;
        var rows = (groups.Count + perRow - 1) / perRow;
        var width = Math.Min(groups.Count, perRow) * (blockWidth + gap) - gap;
        var height = rows * (blockHeight + gap) - gap;
        sb.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">");
        for (var g = 0; g < groups.Count; g++)
        {
            var (key, cpus) = groups[g];
            var (x0, y0) = (g % perRow * (blockWidth + gap), g / perRow * (blockHeight + gap));
            var node = m.NodeOsIndexOf(key.Node);
            var label = blockWidth >= 150 ? $"node {node} · package {key.Package} · {cpus.Count} CPUs" : $"n{node} p{key.Package}";
            sb.Append(Inv, $"<text class=\"group\" x=\"{x0}\" y=\"{y0 + 11}\">{label}</text>");
            for (var i = 0; i < cpus.Count; i++)
            {
                var cpu = cpus[i];
                var x = r.Cpus[cpu];
                sb.Append(Inv, $"<rect class=\"cell\" x=\"{x0 + i % columns * cell}\" y=\"{y0 + labelHeight + i / columns * cell}\" width=\"{cell - 1}\" height=\"{cell - 1}\" fill=\"{Fill(x.Cal, max)}\" " +
                                 $"data-cpu=\"{m.OsIndexOf(cpu)}\" data-node=\"{node}\" data-package=\"{key.Package}\" data-cal=\"{x.Cal}\" " +
                                 $"data-tlb=\"{x.Tlb}\" data-csds=\"{x.CsdsHandled}\" data-stolen=\"{x.StolenNs}\"/>");
            }
        }
        sb.Append("</svg>");
    }

    /// <summary>One cell per group on a grid, rows labelled with their first CPU (the CPU axis).</summary>
    private static void GroupOverview(StringBuilder sb, Machine m, IReadOnlyList<((int Node, int Package) Key, List<int> Cpus)> groups, PolicyResult r, long max)
    {
        const int cell = 22, axis = 70;
        var perRow = (int)Math.Ceiling(Math.Sqrt(groups.Count));
        var rows = (groups.Count + perRow - 1) / perRow;
        var (width, height) = (axis + perRow * cell, rows * cell);
        sb.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"overview\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">");
        for (var g = 0; g < groups.Count; g++)
        {
            var (key, cpus) = groups[g];
            var (col, row) = (g % perRow, g / perRow);
            if (col == 0) sb.Append(Inv, $"<text class=\"axis\" x=\"{axis - 6}\" y=\"{row * cell + 15}\" text-anchor=\"end\">CPU {m.OsIndexOf(cpus[0])}</text>");
            var cals = cpus.Select(cpu => r.Cpus[cpu].Cal).ToList();
            sb.Append(Inv, $"<rect class=\"group-cell\" x=\"{axis + col * cell}\" y=\"{row * cell}\" width=\"{cell - 2}\" height=\"{cell - 2}\" fill=\"{Fill((long)Math.Round(cals.Average()), max)}\" " +
                             $"data-group=\"{g}\" data-node=\"{m.NodeOsIndexOf(key.Node)}\" data-package=\"{key.Package}\" data-cpus=\"{CpuList.Format(cpus.Select(m.OsIndexOf))}\" " +
                             $"data-count=\"{cpus.Count}\" data-cal=\"{cals.Sum()}\" data-max=\"{cals.Max()}\"/>");
        }
        sb.Append("</svg>");
    }

    private static string Fill(long cal, long max) => cal == 0 ? "#e4e4e4" : Colour(Math.Log(cal + 1) / Math.Log(max + 1));

    /// <summary>Latency CDFs, one chart per operation type, one line per policy, on a log µs axis.</summary>
    private static void Cdfs(StringBuilder sb, ReplicateSet set)
    {
        sb.Append("<h2>Initiator latency</h2>\n<p class=\"note\">Share of operations finished within a given virtual time, from the operation's start to its end on the initiating CPU.</p>\n<div class=\"cdfs\">\n");
        foreach (var type in Figures.OperationTypes(set))
        {
            var series = set.Policies.Select((policy, i) =>
            {
                var ns = set.Replicates.SelectMany(c => c.Runs[i].Result.Ops).Where(o => o.Type == type).Select(o => Math.Max(o.LatencyNs, 1)).Order().ToArray();
                var p99 = Percentiles.NearestRank(ns, 0.99);
                return (Policy: policy, Colour: PolicyColours[i % PolicyColours.Length], Us: ns.Select(v => v / 1e3).ToArray(),
                    Tail: ns.Length == 0 ? "" : p99 is { } v ? $"p99 {v / 1e3:0.0} µs" : $"max {ns[^1] / 1e3:0.0} µs, too few for a p99");
            }).Where(s => s.Us.Length > 0).ToList();
            const int w = 480, h = 260, left = 56, bottom = 36, top = 12, right = 32;
            var lo = Math.Pow(10, Math.Floor(Math.Log10(series.Min(s => s.Us[0]))));
            var hi = Math.Pow(10, Math.Ceiling(Math.Log10(series.Max(s => s.Us[^1]) * 1.0001)));
            double X(double us) => left + (Math.Log10(us) - Math.Log10(lo)) / (Math.Log10(hi) - Math.Log10(lo)) * (w - left - right);
            double Y(double f) => top + (1 - f) * (h - top - bottom);
            sb.Append(Inv, $"<figure class=\"cdf\" data-operation=\"{OperationName(type)}\"><figcaption>{OperationName(type)}</figcaption>");
            sb.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">");
            for (var d = lo; d <= hi * 1.0001; d *= 10)
            {
                // The last decade's label ends at the axis end rather than running off the chart.
                var anchor = d * 10 > hi * 1.0001 ? "end" : "middle";
                sb.Append(Inv, $"<line class=\"grid\" x1=\"{X(d):0.#}\" x2=\"{X(d):0.#}\" y1=\"{top}\" y2=\"{h - bottom}\"/><text x=\"{X(d):0.#}\" y=\"{h - bottom + 14}\" text-anchor=\"{anchor}\">{d:0.###}</text>");
            }
            foreach (var f in new[] { 0.0, 0.5, 1.0 })
                sb.Append(Inv, $"<line class=\"grid\" x1=\"{left}\" x2=\"{w - right}\" y1=\"{Y(f):0.#}\" y2=\"{Y(f):0.#}\"/><text x=\"{left - 4}\" y=\"{Y(f) + 4:0.#}\" text-anchor=\"end\">{f:0.#}</text>");
            // p99 is labelled at the right, where it cannot run into the 1 on the left.
            sb.Append(Inv, $"<line class=\"grid\" x1=\"{left}\" x2=\"{w - right}\" y1=\"{Y(0.99):0.#}\" y2=\"{Y(0.99):0.#}\" stroke-dasharray=\"2 2\"/><text x=\"{w - right + 3}\" y=\"{Y(0.99) + 8:0.#}\">p99</text>");
            sb.Append(Inv, $"<text x=\"{(left + w - right) / 2}\" y=\"{h - 4}\" text-anchor=\"middle\">latency µs (log)</text>");
            sb.Append(Inv, $"<text transform=\"translate(14,{(top + h - bottom) / 2}) rotate(-90)\" text-anchor=\"middle\">share of operations</text>");
            foreach (var (s, index) in series.Select((s, i) => (s, i)))
            {
                // A step function, thinned to about 400 points: enough for the eye, small for the file.
                var step = Math.Max(1, s.Us.Length / 400);
                var path = new StringBuilder().Append(Inv, $"M{X(s.Us[0]):0.#},{Y(0):0.#}");
                for (var i = 0; i < s.Us.Length; i += step)
                    path.Append(Inv, $"H{X(s.Us[i]):0.#}V{Y((i + 1.0) / s.Us.Length):0.#}");
                path.Append(Inv, $"H{X(s.Us[^1]):0.#}V{Y(1):0.#}");
                // Every policy after the first is dashed, so that identical curves do not hide each other.
                var dash = index == 0 ? "" : $" stroke-dasharray=\"{6 + 2 * index} {3 + 2 * index}\"";
                sb.Append(Inv, $"<path class=\"line\" stroke=\"{s.Colour}\"{dash} d=\"{path}\"><title>{E(s.Policy)}</title></path>");
            }
            sb.Append("</svg><div class=\"legend\">");
            foreach (var s in series)
                sb.Append(Inv, $"<span><i style=\"background:{s.Colour}\"></i>{E(s.Policy)} (n={s.Us.Length:N0}, {s.Tail})</span>");
            sb.Append("</div></figure>\n");
        }
        sb.Append("</div>\n");
    }

    private static void Realtime(StringBuilder sb, Comparison c)
    {
        var rt = c.Scenario.Workload.RealtimeCpus.Order().ToList();
        sb.Append("<h2>Real-time CPU noise</h2>\n");
        if (rt.Count == 0)
        {
            sb.Append("<p class=\"note\">The scenario isolates no real-time CPUs.</p>\n");
            return;
        }
        sb.Append("<p class=\"note\">Per isolated CPU, as rtla osnoise top would report it (ns): interrupts, total noise, the most in one osnoise period, the longest single interruption. CPUs with the same figures under every policy share a row.</p>\n");
        PerCpuTable(sb, c, "realtime", ["IRQ", "Noise", "Max Noise", "Max Single"], rt, x => [x.Cal, x.StolenNs, x.MaxPeriodNoiseNs, x.MaxSingleNs]);
    }

    /// <summary>
    /// A table of per-CPU figures with a column group per policy, one row per group of CPUs whose
    /// figures are the same under every policy, labelled with their CPU list: on a large machine
    /// hundreds of CPUs usually fall into a handful of distinct rows, and one row each would hide them.
    /// </summary>
    private static void PerCpuTable(StringBuilder sb, Comparison c, string cssClass, string[] columns, IEnumerable<int> cpus, Func<CpuCounters, long[]> figures)
    {
        var m = c.Scenario.Machine;
        sb.Append(Inv, $"<table class=\"{cssClass}\"><thead><tr><th rowspan=\"2\">CPUs</th>");
        foreach (var run in c.Runs) sb.Append(Inv, $"<th colspan=\"{columns.Length}\">{E(run.Result.Policy)}</th>");
        sb.Append("</tr><tr>");
        foreach (var _ in c.Runs) sb.Append(string.Concat(columns.Select(h => $"<th>{E(h)}</th>")));
        sb.Append("</tr></thead><tbody>\n");
        var rows = cpus.GroupBy(cpu => string.Concat(c.Runs.SelectMany(run => figures(run.Result.Cpus[cpu])).Select(v => string.Create(Inv, $"<td>{v:N0}</td>"))));
        foreach (var row in rows)
        {
            var members = row.ToList();
            var label = CpuList.Format(members.Select(m.OsIndexOf)) + (members.Count > 1 ? $" ({members.Count})" : "");
            sb.Append(Inv, $"<tr><th>{label}</th>").Append(row.Key).Append("</tr>\n");
        }
        sb.Append("</tbody></table>\n");
    }

    /// <summary>
    /// Which interrupts each CPU took: flush csds (flush_tlb_func, TLB in /proc/interrupts) and
    /// sync csds (tlb_remove_table_smp_sync), per policy. Collateral damage is the sync column on
    /// CPUs that never ran the process.
    /// </summary>
    private static void FlushAndSyncPerTarget(StringBuilder sb, Comparison c)
    {
        var m = c.Scenario.Machine;
        sb.Append("<h2>Flush and sync interrupts per target</h2>\n<p class=\"note\">Csds each CPU ran, by function: flush_tlb_func (the TLB line of /proc/interrupts) and tlb_remove_table_smp_sync. CPUs with the same figures under every policy share a row.</p>\n");
        PerCpuTable(sb, c, "targets", ["flush", "sync"], Enumerable.Range(0, m.CpuCount), x => [x.Tlb, x.SyncCsdsHandled]);
    }

    /// <summary>
    /// IPIs over virtual time: the flush and sync IPIs of the operations that started in each of
    /// 60 equal slices of the run, one line per policy and kind (sync dashed).
    /// </summary>
    private static void IpisOverTime(StringBuilder sb, Comparison c)
    {
        const int bins = 60, w = 720, h = 240, left = 64, right = 16, top = 12, bottom = 36;
        var duration = Math.Max(1, c.Scenario.DurationNs);
        var series = c.Runs.SelectMany((run, i) => new[] { (Kind: "flush", Dash: ""), (Kind: "sync", Dash: " stroke-dasharray=\"6 3\"") }.Select(k =>
        {
            var counts = new long[bins];
            foreach (var op in run.Result.Ops)
                counts[(int)Math.Min(bins - 1, op.StartNs * bins / duration)] += k.Kind == "flush" ? op.FlushIpis : op.SyncIpis;
            // Earlier policies are drawn wider, so a later policy's identical line does not hide them.
            return (Label: $"{run.Result.Policy} {k.Kind}", Colour: PolicyColours[i % PolicyColours.Length], k.Dash, Width: 2 + 2 * (c.Runs.Length - 1 - i), Counts: counts);
        })).ToList();
        var max = Math.Max(1, series.Max(s => s.Counts.Max()));
        double X(double bin) => left + bin / bins * (w - left - right);
        double Y(double v) => top + (1 - v / max) * (h - top - bottom);
        sb.Append(Inv, $"<h2>IPIs over time</h2>\n<p class=\"note\">IPIs sent by the operations that started in each 1/{bins} of the run ({Us(duration / bins)} µs), flush solid and sync dashed.</p>\n");
        sb.Append(Inv, $"<figure class=\"ipis-over-time\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">");
        foreach (var f in new[] { 0.0, 0.5, 1.0 })
            sb.Append(Inv, $"<line class=\"grid\" x1=\"{left}\" x2=\"{w - right}\" y1=\"{Y(f * max):0.#}\" y2=\"{Y(f * max):0.#}\"/><text x=\"{left - 4}\" y=\"{Y(f * max) + 4:0.#}\" text-anchor=\"end\">{f * max:N0}</text>");
        foreach (var f in new[] { 0.0, 0.5, 1.0 })
            sb.Append(Inv, $"<text x=\"{X(f * bins):0.#}\" y=\"{h - bottom + 14}\" text-anchor=\"{(f == 0 ? "start" : f == 1 ? "end" : "middle")}\">{Us((long)(f * duration))}</text>");
        sb.Append(Inv, $"<text x=\"{(left + w - right) / 2}\" y=\"{h - 4}\" text-anchor=\"middle\">virtual time µs</text>");
        sb.Append(Inv, $"<text transform=\"translate(14,{(top + h - bottom) / 2}) rotate(-90)\" text-anchor=\"middle\">IPIs</text>");
        foreach (var s in series)
        {
            var path = new StringBuilder().Append(Inv, $"M{X(0):0.#},{Y(s.Counts[0]):0.#}");
            for (var b = 0; b < bins; b++) path.Append(Inv, $"V{Y(s.Counts[b]):0.#}H{X(b + 1):0.#}");
            sb.Append(Inv, $"<path class=\"line\" stroke=\"{s.Colour}\" stroke-width=\"{s.Width}\"{s.Dash} d=\"{path}\"><title>{E(s.Label)}</title></path>");
        }
        sb.Append("</svg><div class=\"legend\">");
        foreach (var s in series)
            sb.Append(Inv, $"<span class=\"ipis\"><i style=\"background:{s.Colour}\"></i>{E(s.Label)} ({s.Counts.Sum():N0})</span>");
        sb.Append("</div></figure>\n");
    }

    /// <summary>Viridis, sampled at nine stops, as RGB bytes.</summary>
    private static readonly byte[][] Viridis =
        new[] { "440154", "472d7b", "3b528b", "2c728e", "21918c", "28ae80", "5ec962", "addc30", "fde725" }.Select(Convert.FromHexString).ToArray();

    /// <summary>A perceptually even ramp (viridis) at <paramref name="t"/> in [0, 1].</summary>
    private static string Colour(double t)
    {
        t = Math.Clamp(t, 0, 1) * (Viridis.Length - 1);
        var i = Math.Min((int)t, Viridis.Length - 2);
        var f = t - i;
        return "#" + Convert.ToHexStringLower([.. Viridis[i].Zip(Viridis[i + 1], (p, q) => (byte)Math.Round(p + (q - p) * f))]);
    }

    /// <summary>
    /// What this page was made from, so that a report found later can be reproduced and told
    /// apart: the build, the run, a hash of the scenario's whole definition (machine, costs,
    /// platform, workload, seed, duration), and each part that is not in the tables above.
    /// </summary>
    private static void RunDetails(StringBuilder sb, ReplicateSet set, Provenance provenance)
    {
        var c = set.First;
        sb.Append("<h2>How this was run</h2>\n<table class=\"run\">");
        void Row(string label, string value) => sb.Append(Inv, $"<tr><th>{label}</th><td>{value}</td></tr>");
        Row("Shootdown", E(Provenance.Build));
        if (provenance.CommandLine.Length > 0) Row("command", $"<code id=\"command-line\">{E(provenance.CommandLine)}</code>");
        if (!provenance.Overrides.IsEmpty) Row("overrides", $"<code>{E(string.Join("  ", provenance.Overrides))}</code>");
        Row("run id", $"<code>{E(c.RunId)}</code>");
        Row("engine", E(EngineNames.Describe(c)));
        Row("scenario definition", $"SHA-256 <code id=\"definition-hash\">{Provenance.DefinitionHash(set.Scenario)}</code> (machine, costs, platform, workload, seed, duration)");
        Row(set.Count == 1 ? "seed" : "seeds", E(string.Join(", ", set.Seeds)));
        Row("platform", $"<code>{E(JsonSerializer.Serialize(c.Scenario.Features, UserNames.Json))}</code>");
        foreach (var run in c.Runs)
            Row($"kernel: {E(run.Result.Policy)}", $"<code>{E(JsonSerializer.Serialize(c.Scenario.Policies.First(p => p.Name == run.Result.Policy), UserNames.Json))}</code>");
        Row("costs", $"<code>{E(JsonSerializer.Serialize(c.Scenario.Costs, UserNames.Json))}</code>");
        sb.Append("</table>\n");
    }

    internal static string E(string s) => WebUtility.HtmlEncode(s);

    internal const string Css = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px 32px;color:#1d2327;background:#fff;max-width:1800px}
        h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
        .headline{font-size:16px;font-weight:600;background:#f4f7fb;border-left:4px solid #00798c;padding:8px 12px}
        .note,.machine,.description,.digest{color:#50575e}code{font-size:12px}
        table{border-collapse:collapse}th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
        th{text-align:left;font-weight:normal}th.sub{padding-left:24px}thead th{font-weight:600;text-align:right}
        tr.gap td{border:none;height:8px}
        table.run td{text-align:left;max-width:1200px}table.run code{white-space:normal;word-break:break-all}
        .heatmaps,.cdfs{display:flex;flex-wrap:wrap;gap:32px;align-items:flex-start}
        figure{margin:0}figcaption{font-weight:600;margin-bottom:6px}
        svg text{font-size:11px;fill:#50575e}.cell:hover,.group-cell:hover{stroke:#000;stroke-width:1}.group-cell{cursor:pointer}
        .grid{stroke:#e4e4e4}.bar:hover{stroke:#000}figure.stacked{margin-bottom:18px}.line{fill:none;stroke-width:2}
        .scale{display:flex;align-items:center;gap:2px;margin-bottom:10px}.scale i{display:inline-block;width:22px;height:12px}.scale span{margin:0 6px}
        .legend span{margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
        #tip{position:fixed;display:none;background:#1d2327;color:#fff;padding:4px 8px;border-radius:3px;font-size:12px;pointer-events:none}
        """;

    private const string Script = """
        (function () {
          var tip = document.getElementById('tip');
          document.querySelectorAll('.heatmap').forEach(function (map) {
            var policy = map.getAttribute('data-policy');
            map.addEventListener('click', function (e) {
              var g = e.target;
              if (!g.classList || !g.classList.contains('group-cell')) return;
              map.querySelectorAll('.detail').forEach(function (d) { d.hidden = d.getAttribute('data-group') !== g.dataset.group; });
              map.querySelector('.drill-title').textContent = 'node ' + g.dataset.node + ', package ' + g.dataset.package + ': CPUs ' + g.dataset.cpus;
            });
            map.addEventListener('mousemove', function (e) {
              var c = e.target;
              var d = c.dataset;
              if (c.classList && c.classList.contains('group-cell')) {
                tip.textContent = policy + ': node ' + d.node + ', package ' + d.package + ', CPUs ' + d.cpus + ': ' + d.cal + ' interrupts, at most '
                  + d.max + ' on one CPU (click for each CPU)';
              } else if (c.classList && c.classList.contains('cell')) {
                tip.textContent = policy + ': CPU ' + d.cpu + ' (node ' + d.node + ', package ' + d.package + '): ' + d.cal + ' interrupts, '
                  + d.csds + ' csds, TLB ' + d.tlb + ', ' + (d.stolen / 1000).toFixed(1) + ' µs stolen';
              } else { tip.style.display = 'none'; return; }
              tip.style.left = (e.clientX + 12) + 'px';
              tip.style.top = (e.clientY + 12) + 'px';
              tip.style.display = 'block';
            });
            map.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
          });
        })();
        """;
}
