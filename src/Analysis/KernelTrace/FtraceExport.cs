using System.Collections.Immutable;
using Shootdown.Analysis.Reporting;
using Shootdown.Engine;
using Shootdown.Model.Results;
using Shootdown.Model.Tracing;
using Shootdown.Scenarios;

namespace Shootdown.Analysis.KernelTrace;

/// <summary>
/// A run's tracepoints as ftrace text, and /proc/interrupts at both edges of the traced window,
/// per policy; and the window as a timeline for Perfetto (<see cref="TimelineExport"/>). Runs on
/// the reference engine: the grain engine computes the same events, but collecting a per-event
/// log from every CPU grain is not worth its traffic.
/// </summary>
public static class FtraceExport
{
    /// <summary>
    /// The files of every policy: <c>ftrace-P.txt</c>, <c>interrupts-P-start.txt</c>,
    /// <c>interrupts-P-end.txt</c>; then <c>timeline.json</c> with every policy; and each policy's result.
    /// </summary>
    public static (ImmutableArray<(string Name, string Content)> Files, ImmutableArray<PolicyResult> Results) Render(Scenario scenario, FtraceWindow window)
    {
        var files = ImmutableArray.CreateBuilder<(string, string)>();
        var results = ImmutableArray.CreateBuilder<PolicyResult>();
        var names = scenario.Workload.Processes.Select(p => p.Name).ToList();
        var timelines = new List<TimelineExport.PolicyTimeline>();
        foreach (var policy in scenario.Policies)
        {
            // Every operation traced: the timeline draws each one's steps and arrows.
            var traces = new EveryOperation();
            var engine = new ReferenceEngine(scenario.SetupFor(policy, window), traces);
            var result = engine.Run();
            results.Add(result);
            var cpus = engine.Cpus.ToList();
            var records = FtraceText.Order(cpus.SelectMany(c => c.FtraceRecords));
            files.Add(($"ftrace-{policy.Name}.txt", FtraceText.Render(records, scenario.Machine.CpuCount, names)));
            files.Add(($"interrupts-{policy.Name}-start.txt", Snapshot(scenario, cpus.Select(c => c.StatsAtWindowStart ?? c.Stats))));
            files.Add(($"interrupts-{policy.Name}-end.txt", Snapshot(scenario, cpus.Select(c => c.StatsAtWindowEnd ?? c.Stats))));
            timelines.Add(new TimelineExport.PolicyTimeline(policy.Name, cpus, traces.Ops));
        }
        files.Add(("timeline.json", TimelineExport.Render(scenario, window, timelines)));
        return (files.ToImmutable(), results.ToImmutable());
    }

    /// <summary>Keeps every operation's trace; the reference engine runs on one thread, so a list will do.</summary>
    private sealed class EveryOperation : IOpTraceSink
    {
        public List<OpTrace> Ops { get; } = new();
        public double SampleRatio => 1;
        public object? CurrentCarrier() => null;
        public void Completed(OpTrace trace) => Ops.Add(trace);
    }

    private static string Snapshot(Scenario scenario, IEnumerable<CpuStats> stats) =>
        ProcInterrupts.Render(scenario.Machine, stats.Select((s, cpu) => CpuCounters.From(cpu, s)).ToList());
}
