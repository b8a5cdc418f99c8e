using Shootdown.Model.Results;
using Shootdown.Model.Simulation;
using Shootdown.Model.State;
using Shootdown.Model.Tracing;

namespace Shootdown.Model.Kernel;

/// <summary>
/// One CPU's tracepoint buffer, as <c>trace_pipe</c> would show it, and the /proc/interrupts
/// snapshots at the edges of the recorded window. Records only when the run asks for a window.
/// </summary>
public sealed class CpuTrace(Cpu cpu)
{
    private int _seq;

    /// <summary>Tracepoint records this CPU wrote (csd_queue_cpu lines for its senders included).</summary>
    public List<FtraceRecord> Records { get; } = new();

    /// <summary>Spans of this CPU's own time for the timeline export (interrupts, idle periods), overlapping the recorded window.</summary>
    public List<TimelineRecord> Slices { get; } = new();

    /// <summary>/proc/interrupts as of the trace window's start and end (the first event at or after each; the final counters if none).</summary>
    public CpuStats? StatsAtWindowStart { get; private set; }
    public CpuStats? StatsAtWindowEnd { get; private set; }

    /// <summary>
    /// The TASK-PID column: khugepaged while it runs an operation here, else the process this CPU
    /// runs (its loaded, non-lazy mm), else idle.
    /// </summary>
    public int CurrentTask =>
        cpu.Ops.InProgress && cpu.Ops.Current.InKhugepaged ? FtraceRecord.KhugepagedTask
        : !cpu.Tlb.IsLazy ? TaskOf(cpu.Tlb.LoadedMm) : FtraceRecord.IdleTask;

    /// <summary>The task that queued <paramref name="csd"/> on its sender: khugepaged, or the process whose mm it names.</summary>
    public int SenderTask(in Csd csd) => csd.FromKhugepaged ? FtraceRecord.KhugepagedTask : TaskOf(csd.Info.Mm);

    /// <summary>The process whose mm entity id this is, or idle for init_mm.</summary>
    private int TaskOf(int mm) => mm >= cpu.Machine.CpuCount ? mm - cpu.Machine.CpuCount : FtraceRecord.IdleTask;

    public void WriteState(StateWriter w)
    {
        w.Int(_seq);
        w.Items(Records);
        w.Items(Slices);
        CpuStats.WriteNullable(w, StatsAtWindowStart);
        CpuStats.WriteNullable(w, StatsAtWindowEnd);
    }

    public void ReadState(StateReader r)
    {
        _seq = r.Int();
        r.ItemsInto(Records);
        r.ItemsInto(Slices);
        StatsAtWindowStart = CpuStats.ReadNullable(r);
        StatsAtWindowEnd = CpuStats.ReadNullable(r);
    }

    public void NoteWindowSnapshots(long now)
    {
        if (cpu.Setup.Ftrace is not { } window) return;
        if (StatsAtWindowStart is null && now >= window.FromNs) StatsAtWindowStart = cpu.Stats.Snapshot();
        if (StatsAtWindowEnd is null && now >= window.ToNs) StatsAtWindowEnd = cpu.Stats.Snapshot();
    }

    /// <summary>Writes a record into <paramref name="onCpu"/>'s buffer if the run records a window that holds <paramref name="at"/>.</summary>
    public void Event(long at, int onCpu, FtraceEvent ev, int task, int peer = -1, long call = 0, CsdFunc func = CsdFunc.FlushTlbFunc,
        int pages = 0, TlbFlushReason reason = TlbFlushReason.RemoteShootdown, bool ipi = false)
    {
        if (cpu.Setup.Ftrace is not { } window || !window.Contains(at)) return;
        Records.Add(new FtraceRecord(at, onCpu, ev, task, peer, call, func, pages, reason, ipi, cpu.Id, _seq++));
    }

    /// <summary>This CPU spent [<paramref name="start"/>, <paramref name="end"/>) in <paramref name="kind"/>; kept if the run records a window that overlaps it.</summary>
    public void Slice(long start, long end, TimelineSlice kind, string? state = null, long exitNs = 0)
    {
        if (cpu.Setup.Ftrace is not { } window || end < window.FromNs || start >= window.ToNs || end <= start) return;
        Slices.Add(new TimelineRecord(start, end, cpu.Id, kind, state, exitNs));
    }

    /// <summary>tlb:tlb_flush is an x86 tracepoint (arch/x86/mm/tlb.c).</summary>
    public void TlbFlush(long at, int task, int pages, TlbFlushReason reason)
    {
        if (cpu.Setup.Features.Arch == Arch.X86) Event(at, cpu.Id, FtraceEvent.TlbFlush, task, pages: pages, reason: reason);
    }

    /// <summary>The pages field of tlb_flush: TLB_FLUSH_ALL prints as -1.</summary>
    public static int TracedPages(int pages, bool full) => full ? -1 : pages;
}
