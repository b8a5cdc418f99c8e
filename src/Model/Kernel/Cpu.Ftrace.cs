using Shootdown.Model.Results;
using Shootdown.Model.Tracing;

namespace Shootdown.Model.Kernel;

public sealed partial class Cpu
{
    private int _ftraceSeq;

    /// <summary>Tracepoint records this CPU wrote (csd_queue_cpu lines for its senders included), when the run records an ftrace window.</summary>
    public List<FtraceRecord> FtraceRecords { get; } = new();

    /// <summary>/proc/interrupts as of the trace window's start and end (the first event at or after each; the final counters if none).</summary>
    public CpuStats? StatsAtWindowStart { get; private set; }
    public CpuStats? StatsAtWindowEnd { get; private set; }

    /// <summary>The process this CPU runs (its loaded, non-lazy mm), or -1: the TASK-PID column.</summary>
    private int CurrentTask => !IsLazy && LoadedMm >= _machine.CpuCount ? LoadedMm - _machine.CpuCount : -1;

    private void NoteWindowSnapshots(long now)
    {
        var window = _setup.Ftrace!;
        if (StatsAtWindowStart is null && now >= window.FromNs) StatsAtWindowStart = Stats.Snapshot();
        if (StatsAtWindowEnd is null && now >= window.ToNs) StatsAtWindowEnd = Stats.Snapshot();
    }

    /// <summary>Writes a record into <paramref name="cpu"/>'s buffer if the run records a window that holds <paramref name="at"/>.</summary>
    private void TraceEvent(long at, int cpu, FtraceEvent ev, int task, int peer = -1, long call = 0, CsdFunc func = CsdFunc.FlushTlbFunc,
        int pages = 0, TlbFlushReason reason = TlbFlushReason.RemoteShootdown, bool ipi = false)
    {
        if (_setup.Ftrace is not { } window || !window.Contains(at)) return;
        FtraceRecords.Add(new FtraceRecord(at, cpu, ev, task, peer, call, func, pages, reason, ipi, Id, _ftraceSeq++));
    }

    /// <summary>The pages field of tlb_flush: TLB_FLUSH_ALL prints as -1.</summary>
    private static int TracedPages(int pages, bool full) => full ? -1 : pages;

    /// <summary>The process whose mm entity id this is, or -1 for init_mm.</summary>
    private int TaskOf(int mm) => mm >= _machine.CpuCount ? mm - _machine.CpuCount : -1;

    /// <summary>tlb:tlb_flush is an x86 tracepoint (arch/x86/mm/tlb.c).</summary>
    private void TraceTlbFlush(long at, int task, int pages, TlbFlushReason reason)
    {
        if (_setup.Features.Arch == Arch.X86) TraceEvent(at, Id, FtraceEvent.TlbFlush, task, pages: pages, reason: reason);
    }
}
