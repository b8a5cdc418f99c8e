using System.Globalization;
using Shootdown.Analysis.Runs;
using Shootdown.Model.Results;
using Shootdown.Model.Statistics;
using Spectre.Console;
using static Shootdown.Analysis.Reporting.Headline;

namespace Shootdown.Analysis.Reporting;

/// <summary>
/// The side-by-side comparison, one column per policy: of one run, its figures; over replicates,
/// each figure's median with its 95 % interval, and latency percentiles pooled over every
/// replicate's operations.
/// </summary>
public static class ComparisonTable
{
    public static void Write(IAnsiConsole console, ReplicateSet set)
    {
        var c = set.First;
        var m = c.Scenario.Machine;
        var seeds = set.Count == 1 ? $"seed {c.Scenario.Seed}" : $"{set.Count} seeds ({SeedList(set)})";
        console.MarkupLine($"[bold]{Markup.Escape(c.Scenario.Name)}[/]: {m.CpuCount} CPUs, {m.PackageCount} packages, {m.NodeCount} NUMA nodes " +
                           $"({Markup.Escape(c.Scenario.Machine.Name)}), {Us(c.Scenario.DurationNs)} µs, {seeds}, " +
                           $"engine {EngineNames.Describe(c)}");
        if (set.Count > 1) console.WriteLine(IntervalNote(set.Count));

        var table = new Table().Border(TableBorder.Rounded).AddColumn("");
        foreach (var policy in set.Policies) table.AddColumn(new TableColumn($"[bold]{Markup.Escape(policy)}[/]").RightAligned());
        foreach (var row in Rows(set))
        {
            if (row is null) table.AddEmptyRow();
            else table.AddRow(new[] { row.Bold ? $"{row.Indent}[bold]{Markup.Escape(row.Label)}[/]{Markup.Escape(row.Suffix)}" : Markup.Escape(row.Indent + row.Label + row.Suffix) }
                .Concat(row.Cells.Select(Markup.Escape)).ToArray());
        }
        console.Write(table);
        if (PercentileNote(set) is { } note) console.WriteLine(note);
        console.MarkupLine($"[bold]{Markup.Escape(For(set))}[/]");
        if (set.Count == 1)
        {
            foreach (var line in SafetyLines(c)) console.WriteLine(line);
            foreach (var run in c.Runs) console.WriteLine($"digest {run.Result.Policy} {run.Result.Digest}");
            return;
        }
        // One line per replicate: its seed (rerun it alone with --seed) and each policy's digest.
        foreach (var r in set.Replicates)
            console.WriteLine($"seed {r.Scenario.Seed,-10} {string.Join("  ", r.Runs.Select(run => $"{run.Result.Policy} {run.Result.Digest[..16]}"))}");
    }

    /// <summary>The seeds, elided in the middle past eight.</summary>
    public static string SeedList(ReplicateSet set) =>
        set.Count <= 8 ? string.Join(", ", set.Seeds) : $"{string.Join(", ", set.Seeds.Take(4))}, …, {set.Seeds[^1]}";

    /// <summary>How to read a cell over replicates.</summary>
    public static string IntervalNote(int replicates) => replicates >= MedianEstimate.MinReplicatesForInterval
        ? $"median over {replicates} replicates [95 % interval for the median, distribution-free]"
        : $"median over {replicates} replicates (range: fewer than {MedianEstimate.MinReplicatesForInterval} replicates give no 95 % interval)";

    /// <summary>Said under the table when a percentile was left out for too few samples.</summary>
    public static string? PercentileNote(ReplicateSet set)
    {
        var pooled = Figures.OperationTypes(set).SelectMany(t => set.Policies.Select((_, p) => PooledLatency.Of(set, p, t))).OfType<PooledLatency>().ToList();
        if (pooled.All(p => p.P99Ns is not null)) return null;
        return $"– : too few operations for that percentile (p50 needs {Percentiles.MinSamples(0.5)}, p99 {Percentiles.MinSamples(0.99)}); read the max" +
               (set.Count > 1 ? $". Percentiles pool all {set.Count} replicates' operations." : ".");
    }

    /// <summary>Each policy's safety verdict, and its first violations as counterexamples.</summary>
    public static IEnumerable<string> SafetyLines(Comparison c, int perPolicy = 3)
    {
        foreach (var run in c.Runs)
        {
            if (run.Result.Safety is not { } safety) continue;
            yield return $"safety {run.Result.Policy}: {safety.Verdict}";
            foreach (var v in safety.Violations.Take(perPolicy)) yield return "  " + Describe(c, v);
            if (safety.ViolationCount > perPolicy) yield return $"  … {N(safety.ViolationCount - perPolicy)} more in results.json (--out)";
        }
    }

    /// <summary>A counterexample in one line: when, where, which walker, which operation, and why nothing drained it.</summary>
    public static string Describe(Comparison c, Model.Safety.Violation v) =>
        $"at {Us(v.TimeNs)} µs CPU {v.Cpu}: {Model.Workload.WalkerKinds.Scenario.NameOf(v.Walker)} walk of {c.Scenario.Workload.Processes[v.Process].Name} " +
        $"({Us(v.WalkStartNs)}–{Us(v.WalkEndNs)} µs) still running when {Model.Workload.OpTypeNames.Kernel.NameOf(v.Op)} #{v.OpSerial} on CPU {v.Initiator} " +
        $"retired the table: {v.Why}";

    /// <summary>One row of the comparison: a label (its bold part, then the rest) and a cell per policy.</summary>
    public sealed record ComparisonRow(string Indent, string Label, bool Bold, string Suffix, IReadOnlyList<string> Cells);

    /// <summary>The table's rows, shared by the terminal and the HTML report; null marks a gap between groups.</summary>
    public static IEnumerable<ComparisonRow?> Rows(ReplicateSet set)
    {
        var policies = Enumerable.Range(0, set.Policies.Count).ToList();
        ComparisonRow Row(Figure f, string label, string suffix = "") =>
            new(f.Sub ? "  " : "", label, f.Bold, suffix, [.. policies.Select(p => f.Cell(f.Over(set, p), set.Count))]);

        foreach (var type in Figures.OperationTypes(set))
        {
            var figures = Figures.OfOperation(type);
            yield return Row(figures[0], OperationName(type), " count");
            yield return Row(figures[1], figures[1].Label);
            yield return new ComparisonRow("  ", "latency p50 / p99 µs", false, "",
                [.. policies.Select(p => PooledLatency.Of(set, p, type)?.Cell() ?? "-")]);
            foreach (var f in figures.Skip(2)) yield return Row(f, f.Label);
            yield return new ComparisonRow("  ", $"{string.Join("/", TimeBreakdown.OperationParts)} %", false, "",
                [.. policies.Select(p => TimeBreakdown.Of(set, p, type) is { } b ? TimeBreakdown.Shares(b.PartsNs) : "-")]);
        }
        yield return null;
        foreach (var f in Figures.Totals(set)) yield return Row(f, f.Label);
        yield return new ComparisonRow("", $"targets: {string.Join("/", TimeBreakdown.TargetParts)} %", false, "",
            [.. policies.Select(p => TimeBreakdown.Shares(TimeBreakdown.OfTargets(set, p).PartsNs))]);
        if (set.Scenario.Workload.RealtimeCpus.Length > 0)
            yield return new ComparisonRow("", "RT noise: entry+exit/handler %", false, "",
                [.. policies.Select(p => TimeBreakdown.Shares(TimeBreakdown.OfTargets(set, p, set.Scenario.Workload.RealtimeCpus).PartsNs[1..]))]);
        yield return null;
        foreach (var f in Figures.Rates(set)) yield return Row(f, f.Label);
        if (set.Count == 1) yield return new ComparisonRow("", "digest", false, "", [.. set.First.Runs.Select(r => r.Result.Digest[..16])]);
    }
}
