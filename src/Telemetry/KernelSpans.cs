using System.Diagnostics;
using Shootdown.Model.Kernel;
using Shootdown.Model.Simulation;
using Shootdown.Model.Tracing;
using Shootdown.Model.Workload;

namespace Shootdown.Telemetry;

/// <summary>
/// Turns traced kernel operations into spans on the virtual timeline. One trace per operation:
/// <code>
/// collapse_huge_page                      (root: initiator, mm, policy)
/// ├─ flush_tlb_mm_range                   (pages, full or ranged, freed_tables, outcome)
/// │  └─ native_flush_tlb_multi            (smp_call_function_many_cond: targets, coalesced)
/// │     └─ flush_tlb_func × target        (csd landed → csd_unlock on that CPU)
/// └─ tlb_remove_table_sync_one            (outcome: broadcast, or why skipped)
///    └─ smp_call_function_many_cond
///       └─ tlb_remove_table_smp_sync × target
/// </code>
/// A sampled broadcast is complete: every target is a span. The root links to the engine spans
/// (grain calls, or the reference run) that were running while the operation moved on, and
/// carries the scenario and the run's id, to find one run's operations among many.
/// </summary>
public sealed class KernelSpans(SimulationSetup setup, double sampleRatio, string scenario, string runId) : IOpTraceSink
{
    /// <summary>Nothing is traced, not even in the model, while no exporter listens.</summary>
    public double SampleRatio => Instrumentation.Kernel.HasListeners() ? sampleRatio : 0;

    public object? CurrentCarrier() => Activity.Current is { Recorded: true } current ? current.Context : null;

    public void Completed(OpTrace trace) => Instrumentation.Detached(() => Write(trace));

    private void Write(OpTrace t)
    {
        var links = t.Carriers.OfType<ActivityContext>().Select(c => new ActivityLink(c)).ToList();
        var rootTags = new ActivityTagsCollection
        {
            [Instrumentation.HeadSampledTag] = true,
            [Instrumentation.ScenarioTag] = scenario,
            [Instrumentation.RunIdTag] = runId,
        };
        using var root = Instrumentation.Kernel.StartActivity(RootName(t.Type), ActivityKind.Internal, default(ActivityContext), rootTags, links, Instrumentation.AtVirtual(t.StartNs));
        if (root is null) return;
        var mm = setup.Workload.Processes[t.Process].Name;
        root.SetTag("kernel.policy", setup.Policy.Name);
        root.SetTag("kernel.initiator_cpu", t.Initiator);
        root.SetTag("kernel.mm", mm);
        root.SetTag("kernel.op_serial", t.Serial);
        root.SetTag("kernel.arrival_ns", t.ArrivalNs);
        root.SetTag("kernel.latency_ns", t.EndNs - t.StartNs);
        root.SetTag("kernel.targets", t.Steps.Sum(s => s.Call?.Targets.Length ?? 0));
        root.SetTag("kernel.coalesced", t.Steps.Sum(s => s.Call?.Coalesced ?? 0));
        if (t.Steps.FirstOrDefault(s => s.Kind == StepKind.FlushTlbMmRange) is { } flush)
        {
            root.SetTag("kernel.pages", flush.Pages);
            root.SetTag("kernel.flush", flush.FullFlush ? "full" : "range");
        }
        SetVirtualTimes(root, t.StartNs, t.EndNs);
        foreach (var step in t.Steps) WriteStep(root, step, mm);
        Instrumentation.StopAtVirtual(root, t.EndNs);
    }

    private void WriteStep(Activity root, StepTrace step, string mm)
    {
        var span = Instrumentation.Kernel.StartActivity(StepName(step.Kind), ActivityKind.Internal, root.Context, startTime: Instrumentation.AtVirtual(step.StartNs));
        if (span is null) return;
        span.SetTag("kernel.outcome", step.Outcome);
        if (step.Kind == StepKind.FlushTlbMmRange)
        {
            span.SetTag("kernel.mm", mm);
            span.SetTag("kernel.pages", step.Pages);
            span.SetTag("kernel.flush", step.FullFlush ? "full" : "range");
            span.SetTag("kernel.freed_tables", step.FreedTables);
        }
        SetVirtualTimes(span, step.StartNs, step.EndNs);
        if (step.Call is { } call) WriteCall(span, step.Kind, call);
        Instrumentation.StopAtVirtual(span, step.EndNs);
    }

    private void WriteCall(Activity parent, StepKind step, CallTrace call)
    {
        var name = step == StepKind.FlushTlbMmRange ? "native_flush_tlb_multi" : "smp_call_function_many_cond";
        var span = Instrumentation.Kernel.StartActivity(name, ActivityKind.Internal, parent.Context, startTime: Instrumentation.AtVirtual(call.StartNs));
        if (span is null) return;
        span.SetTag("kernel.targets", call.Targets.Length);
        span.SetTag("kernel.coalesced", call.Coalesced);
        span.SetTag("kernel.declined", call.Declined);
        span.SetTag("kernel.ran_local", call.RanLocal);
        span.SetTag("kernel.ipis_sent_ns", call.IpisSentNs);
        span.SetTag("kernel.csd_lock_wait_ns", call.WaitDoneNs - call.IpisSentNs);
        SetVirtualTimes(span, call.StartNs, call.WaitDoneNs);
        var func = call.Func == CsdFunc.FlushTlbFunc ? "flush_tlb_func" : "tlb_remove_table_smp_sync";
        var machine = setup.Machine;
        foreach (var target in call.Targets)
        {
            var t = Instrumentation.Kernel.StartActivity(func, ActivityKind.Internal, span.Context, startTime: Instrumentation.AtVirtual(target.QueuedNs));
            if (t is null) continue;
            var end = target.Declined ? target.AnsweredNs : target.UnlockNs;
            t.SetTag("cpu", target.Cpu);
            t.SetTag("cpu.package", machine.PackageOf(target.Cpu));
            t.SetTag("cpu.numa_node", machine.NodeOf(target.Cpu));
            if (target.IpiArrivalNs > 0) t.SetTag("kernel.ipi_arrival_ns", target.IpiArrivalNs);
            t.SetTag("kernel.declined", target.Declined);
            t.SetTag("kernel.coalesced", target.Coalesced);
            if (!target.Declined) t.SetTag("kernel.func_start_ns", target.FuncStartNs);
            t.SetTag("kernel.answered_ns", target.AnsweredNs);
            SetVirtualTimes(t, target.QueuedNs, end);
            Instrumentation.StopAtVirtual(t, end);
        }
        Instrumentation.StopAtVirtual(span, call.WaitDoneNs);
    }

    private static void SetVirtualTimes(Activity span, long startNs, long endNs)
    {
        span.SetTag("virtual.start_ns", startNs);
        span.SetTag("virtual.end_ns", endNs);
    }

    public static string RootName(OpType type) => OpTypeNames.Kernel.NameOf(type);

    public static string StepName(StepKind kind) => kind switch
    {
        StepKind.TlbUnsharePmdPtdesc => "tlb_unshare_pmd_ptdesc",
        StepKind.FlushTlbMmRange => "flush_tlb_mm_range",
        StepKind.TlbRemoveTableSyncOne => "tlb_remove_table_sync_one",
        StepKind.TlbRemoveTableSyncRcu => "tlb_remove_table_sync_rcu",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
