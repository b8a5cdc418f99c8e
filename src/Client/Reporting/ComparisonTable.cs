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
        var results = c.Runs.Select(r => r.Result).ToList();

        foreach (var type in results.SelectMany(r => r.ByType.Select(s => s.Type)).Distinct().Order())
        {
            var name = OperationName(type);
            LatencySummary? S(PolicyResult r) => r.ByType.FirstOrDefault(s => s.Type == type);
            Row(table, $"[bold]{name}[/] count", results, r => N(S(r)?.Count ?? 0));
            Row(table, "  latency mean / p50 µs", results, r => S(r) is { } s ? $"{Us(s.MeanNs)} / {Us(s.P50Ns)}" : "-");
            Row(table, "  latency p99 / max µs", results, r => S(r) is { } s ? $"{Us(s.P99Ns)} / {Us(s.MaxNs)}" : "-");
            Row(table, "  flush IPIs / sync IPIs", results, r => S(r) is { } s ? $"{N(s.FlushIpis)} / {N(s.SyncIpis)}" : "-");
        }
        table.AddEmptyRow();
        Row(table, "IPIs sent (csds queued)", results, r => N(r.TotalIpis));
        Row(table, "interrupts taken (sum of CAL)", results, r => N(r.TotalInterrupts));
        Row(table, "TLB (sum)", results, r => N(r.Cpus.Sum(x => x.Tlb)));
        Row(table, "[bold]collateral IPIs[/]", results, r => N(r.CollateralIpis));
        Row(table, "CPU time stolen µs", results, r => Us(r.Cpus.Sum(x => x.StolenNs)));
        if (results[0].Realtime.Cpus > 0)
        {
            Row(table, $"RT CPUs ({results[0].Realtime.Cpus}) interrupts", results, r => N(r.Realtime.Interrupts));
            Row(table, "RT noise total / max single µs", results, r => $"{Us(r.Realtime.NoiseNs)} / {Us(r.Realtime.MaxSingleNs)}");
            Row(table, "RT % CPU available", results, r => r.Realtime.CpuAvailablePercent.ToString("0.00000", CultureInfo.InvariantCulture));
        }
        Row(table, "events", results, r => N(r.EventsProcessed));
        Row(table, "digest", results, r => r.Digest[..16]);
        console.Write(table);
        console.MarkupLine($"[bold]{Markup.Escape(For(c))}[/]");
        foreach (var run in c.Runs)
            console.WriteLine($"digest {run.Result.Policy} {run.Result.Digest}");
    }

    private static void Row(Table table, string label, List<PolicyResult> results, Func<PolicyResult, string> cell) =>
        table.AddRow(new[] { label }.Concat(results.Select(r => Markup.Escape(cell(r)))).ToArray());
}
