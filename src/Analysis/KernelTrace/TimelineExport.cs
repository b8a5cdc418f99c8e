using System.Text;
using System.Text.Json;
using Shootdown.Model.Kernel;
using Shootdown.Model.Tracing;
using Shootdown.Model.Workload;
using Shootdown.Scenarios;
using Shootdown.Telemetry;

namespace Shootdown.Analysis.KernelTrace;

/// <summary>
/// A window of a run as Chrome trace-event JSON, which Perfetto (ui.perfetto.dev, "Open trace
/// file") and chrome://tracing open: one process per policy, one track (thread) per CPU. On a
/// CPU's track: the operations it initiated, their steps and each smp_call_function_many_cond()
/// split into its loop, IPI sends and csd_lock_wait(); its interrupts, with the csd funcs they
/// ran; csds run from the idle loop; its idle periods by cpuidle state, with the exit latency
/// paid on waking; its lockless page-table walks. A flow arrow goes from the sender's loop, where
/// it queued a csd, to the target's func that ran it ("ipi" when the target was IPI'd, "csd" when
/// its queue was busy and an interrupt already coming ran it). Times are virtual: ts and dur in µs.
/// </summary>
public static class TimelineExport
{
    /// <summary>What one policy's run left for the timeline.</summary>
    public sealed record PolicyTimeline(string Policy, IReadOnlyList<Cpu> Cpus, IReadOnlyList<OpTrace> Ops);

    public static string Render(Scenario scenario, FtraceWindow window, IReadOnlyList<PolicyTimeline> policies)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("displayTimeUnit", "ns");
            w.WriteStartObject("otherData");
            w.WriteString("scenario", scenario.Name);
            w.WriteNumber("seed", scenario.Seed);
            w.WriteNumber("window_from_ns", window.FromNs);
            if (window.ToNs != long.MaxValue) w.WriteNumber("window_to_ns", window.ToNs);
            w.WriteEndObject();
            w.WriteStartArray("traceEvents");
            var flow = 0L;
            for (var p = 0; p < policies.Count; p++)
            {
                var pid = p + 1;
                var timeline = policies[p];
                Metadata(w, "process_name", pid, null, timeline.Policy);
                Metadata(w, "process_sort_index", pid, null, null, p);
                foreach (var cpu in timeline.Cpus)
                {
                    Metadata(w, "thread_name", pid, cpu.Id, $"CPU {scenario.Machine.OsIndexOf(cpu.Id)}");
                    Metadata(w, "thread_sort_index", pid, cpu.Id, null, cpu.Id);
                    CpuSlices(w, pid, cpu, window);
                }
                foreach (var op in timeline.Ops.Where(o => o.EndNs >= window.FromNs && o.StartNs < window.ToNs))
                    Operation(w, pid, op, scenario, ref flow);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void CpuSlices(Utf8JsonWriter w, int pid, Cpu cpu, FtraceWindow window)
    {
        foreach (var s in cpu.Tracer.Slices)
        {
            switch (s.Kind)
            {
                case TimelineSlice.Idle:
                    Slice(w, pid, cpu.Id, s.State ?? "idle", "idle", s.StartNs, s.EndNs);
                    if (s.ExitNs > 0) Slice(w, pid, cpu.Id, $"exit {s.State}", "idle", s.EndNs - s.ExitNs, s.EndNs);
                    break;
                case TimelineSlice.Interrupt:
                    Slice(w, pid, cpu.Id, "sysvec_call_function", "irq", s.StartNs, s.EndNs);
                    break;
                default:
                    Slice(w, pid, cpu.Id, "flush_smp_call_function_queue (idle loop)", "csd", s.StartNs, s.EndNs);
                    break;
            }
        }
        // Each csd func between its csd_function_entry and csd_function_exit records (one CPU runs them one after another).
        var entry = default(FtraceRecord?);
        foreach (var r in cpu.Tracer.Records.Where(r => r.Cpu == cpu.Id))
        {
            if (r.Event == FtraceEvent.CsdFunctionEntry) entry = r;
            else if (r.Event == FtraceEvent.CsdFunctionExit && entry is { } e)
            {
                Slice(w, pid, cpu.Id, FtraceText.FuncName(e.Func), "csd", e.TimeNs, r.TimeNs, ("sender", e.Peer));
                entry = null;
            }
        }
        foreach (var walk in cpu.Walkers.Walks.Where(x => x.EndNs >= window.FromNs && x.StartNs < window.ToNs))
            Slice(w, pid, cpu.Id, $"{WalkerKinds.Scenario.NameOf(walk.Kind)} walk", "walk", walk.StartNs, walk.EndNs, ("process", walk.Process));
    }

    private static void Operation(Utf8JsonWriter w, int pid, OpTrace op, Scenario scenario, ref long flow)
    {
        var cpu = op.Initiator;
        Slice(w, pid, cpu, KernelSpans.RootName(op.Type), "operation", op.StartNs, op.EndNs, ("mm", scenario.Workload.Processes[op.Process].Name), ("serial", op.Serial));
        foreach (var step in op.Steps)
        {
            Slice(w, pid, cpu, KernelSpans.StepName(step.Kind), "operation", step.StartNs, step.EndNs, ("outcome", step.Outcome));
            if (step.Call is not { } call) continue;
            Slice(w, pid, cpu, "smp_call_function_many_cond", "call", call.StartNs, call.WaitDoneNs, ("targets", call.Targets.Length));
            Slice(w, pid, cpu, "loop: csd_lock, llist_add", "call", call.StartNs, call.LoopEndNs);
            Slice(w, pid, cpu, "send IPIs", "call", call.LoopEndNs, call.IpisSentNs);
            Slice(w, pid, cpu, call.RanLocal ? "local func, csd_lock_wait" : "csd_lock_wait", "call", call.IpisSentNs, call.WaitDoneNs);
            foreach (var t in call.Targets)
            {
                if (t.Declined || t.FuncStartNs == 0) continue;
                var id = ++flow;
                var name = t.IpiArrivalNs > 0 ? "ipi" : "csd";
                Flow(w, "s", name, pid, cpu, id, t.QueuedNs);
                Flow(w, "f", name, pid, t.Cpu, id, t.FuncStartNs);
            }
        }
    }

    private static void Metadata(Utf8JsonWriter w, string name, int pid, int? tid, string? value, int? sort = null)
    {
        w.WriteStartObject();
        w.WriteString("name", name);
        w.WriteString("ph", "M");
        w.WriteNumber("pid", pid);
        if (tid is { } t) w.WriteNumber("tid", t);
        w.WriteStartObject("args");
        if (value is not null) w.WriteString("name", value);
        if (sort is { } s) w.WriteNumber("sort_index", s);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void Slice(Utf8JsonWriter w, int pid, int tid, string name, string category, long startNs, long endNs, params (string Key, object Value)[] args)
    {
        w.WriteStartObject();
        w.WriteString("name", name);
        w.WriteString("cat", category);
        w.WriteString("ph", "X");
        w.WriteNumber("ts", startNs / 1000.0);
        w.WriteNumber("dur", Math.Max(0, endNs - startNs) / 1000.0);
        w.WriteNumber("pid", pid);
        w.WriteNumber("tid", tid);
        if (args.Length > 0)
        {
            w.WriteStartObject("args");
            foreach (var (key, value) in args)
            {
                if (value is string s) w.WriteString(key, s);
                else w.WriteNumber(key, Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    /// <summary>A flow arrow's end: "s" binds to the slice enclosing it on the sender's track, "f" (binding point "e") to the one on the target's.</summary>
    private static void Flow(Utf8JsonWriter w, string phase, string name, int pid, int tid, long id, long ns)
    {
        w.WriteStartObject();
        w.WriteString("name", name);
        w.WriteString("cat", "flow");
        w.WriteString("ph", phase);
        w.WriteNumber("id", id);
        w.WriteNumber("ts", ns / 1000.0);
        w.WriteNumber("pid", pid);
        w.WriteNumber("tid", tid);
        if (phase == "f") w.WriteString("bp", "e");
        w.WriteEndObject();
    }
}
