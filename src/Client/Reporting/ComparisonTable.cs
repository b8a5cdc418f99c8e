using System.Globalization;
using Shootdown.Client.Running;
using Shootdown.Model.Results;
using Spectre.Console;
using static Shootdown.Client.Reporting.Headline;

namespace Shootdown.Client.Reporting;

/// <summary>The side-by-side comparison, one column per policy.</summary>
public static class ComparisonTable
{
    public static void Write(IAnsiConsole console, Comparison c)
    {
        var m = c.Scenario.Machine;
        console.MarkupLine($"[bold]{Markup.Escape(c.Scenario.Name)}[/]: {m.CpuCount} CPUs, {m.PackageCount} packages, {m.NodeCount} NUMA nodes " +
                           $"({Markup.Escape(c.Scenario.Machine.Name)}), {Us(c.Scenario.DurationNs)} µs, seed {c.Scenario.Seed}, " +
                           $"engine {c.Engine.ToString().ToLowerInvariant()}{(c.Silos > 0 ? $" on {c.Silos} embedded silo(s)" : c.Engine == EngineKind.Grains ? " on a running cluster" : "")}");

        var table = new Table().Border(TableBorder.Rounded).AddColumn("");
        foreach (var run in c.Runs) table.AddColumn(new TableColumn($"[bold]{run.Result.Policy}[/]").RightAligned());
        foreach (var row in Rows(c))
        {
            if (row is null) table.AddEmptyRow();
            else table.AddRow(new[] { row.Bold ? $"{row.Indent}[bold]{Markup.Escape(row.Label)}[/]{Markup.Escape(row.Suffix)}" : Markup.Escape(row.Indent + row.Label + row.Suffix) }
                .Concat(row.Cells.Select(Markup.Escape)).ToArray());
        }
        console.Write(table);
        console.MarkupLine($"[bold]{Markup.Escape(For(c))}[/]");
        foreach (var line in SafetyLines(c)) console.WriteLine(line);
        foreach (var run in c.Runs)
            console.WriteLine($"digest {run.Result.Policy} {run.Result.Digest}");
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
    public static IEnumerable<ComparisonRow?> Rows(Comparison c)
    {
        var results = c.Runs.Select(r => r.Result).ToList();
        ComparisonRow Row(string label, Func<PolicyResult, string> cell, bool bold = false, string suffix = "", string indent = "") =>
            new(indent, label, bold, suffix, results.Select(cell).ToList());

        foreach (var type in results.SelectMany(r => r.ByType.Select(s => s.Type)).Distinct().Order())
        {
            LatencySummary? S(PolicyResult r) => r.ByType.FirstOrDefault(s => s.Type == type);
            yield return Row(OperationName(type), r => N(S(r)?.Count ?? 0), bold: true, suffix: " count");
            yield return Row("latency mean / p50 µs", r => S(r) is { } s ? $"{Us(s.MeanNs)} / {Us(s.P50Ns)}" : "-", indent: "  ");
            yield return Row("latency p99 / max µs", r => S(r) is { } s ? $"{Us(s.P99Ns)} / {Us(s.MaxNs)}" : "-", indent: "  ");
            yield return Row("flush IPIs / sync IPIs", r => S(r) is { } s ? $"{N(s.FlushIpis)} / {N(s.SyncIpis)}" : "-", indent: "  ");
        }
        yield return null;
        yield return Row("IPIs sent (csds queued)", r => N(r.TotalIpis));
        yield return Row("interrupts taken (sum of CAL)", r => N(r.TotalInterrupts));
        yield return Row("TLB (sum)", r => N(r.Cpus.Sum(x => x.Tlb)));
        yield return Row("collateral IPIs", r => N(r.CollateralIpis), bold: true);
        yield return Row("CPU time stolen µs", r => Us(r.Cpus.Sum(x => x.StolenNs)));
        if (results[0].Realtime.Cpus > 0)
        {
            yield return Row($"RT CPUs ({results[0].Realtime.Cpus}) interrupts", r => N(r.Realtime.Interrupts));
            yield return Row("RT noise total / max single µs", r => $"{Us(r.Realtime.NoiseNs)} / {Us(r.Realtime.MaxSingleNs)}");
            yield return Row("RT % CPU available", r => r.Realtime.CpuAvailablePercent.ToString("0.00000", CultureInfo.InvariantCulture));
        }
        if (results[0].Safety is not null)
        {
            yield return Row("lockless walks checked", r => N(r.Safety!.Walks));
            yield return Row("tables retired (RCU-deferred)", r => $"{N(r.Safety!.Retires)} ({N(r.Safety.RcuDeferredRetires)})");
            yield return Row("safety violations", r => N(r.Safety!.ViolationCount), bold: true);
        }
        yield return Row("events", r => N(r.EventsProcessed));
        yield return Row("digest", r => r.Digest[..16]);
    }
}
