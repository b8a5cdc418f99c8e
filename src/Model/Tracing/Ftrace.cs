using System.Globalization;
using System.Text;
using Shootdown.Model.Simulation;
using Shootdown.Model.State;
using Shootdown.Model.Topology;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Tracing;

/// <summary>The tracepoints the model emits, as docs/outputs.md lists them.</summary>
public enum FtraceEvent
{
    /// <summary><c>tlb:tlb_flush</c>.</summary>
    TlbFlush,
    /// <summary><c>csd:csd_queue_cpu</c>, on the sender, for each CPU a csd is queued on (cond_func passed).</summary>
    CsdQueueCpu,
    /// <summary><c>ipi:ipi_send_cpumask</c> (or <c>ipi:ipi_send_cpu</c> for a single CPU): the CPUs whose queue was empty.</summary>
    IpiSend,
    /// <summary><c>csd:csd_function_entry</c>, on the target.</summary>
    CsdFunctionEntry,
    /// <summary><c>csd:csd_function_exit</c>, on the target.</summary>
    CsdFunctionExit,
}

/// <summary>
/// A csd's <c>func</c>, as the csd tracepoints name it (include/trace/events/csd.h prints the
/// function) and as data: the target runs it through <see cref="Kernel.Cpu.RunCsdFunc"/>. It lives
/// with the tracepoints, as <see cref="TlbFlushReason"/> does, so that tracing reads no kernel type.
/// </summary>
public enum CsdFunc : byte
{
    /// <summary>arch/x86/mm/tlb.c flush_tlb_func().</summary>
    FlushTlbFunc,
    /// <summary>mm/mmu_gather.c tlb_remove_table_smp_sync(): empty, "Simply deliver the interrupt".</summary>
    TlbRemoveTableSmpSync,
}

/// <summary>include/linux/mm_types.h enum tlb_flush_reason, with the tracepoint's strings.</summary>
public enum TlbFlushReason
{
    FlushOnTaskSwitch = 0,
    RemoteShootdown = 1,
    LocalShootdown = 2,
    LocalMmShootdown = 3,
    RemoteSendIpi = 4,
    RemoteWrongCpu = 5,
}

/// <summary>
/// One trace event. <see cref="Cpu"/> is the CPU whose buffer the kernel writes it into (the
/// sender for csd_queue_cpu and ipi_send_*); <see cref="Peer"/> is the other CPU (the target of a
/// queued csd, the sender of a csd being run). <see cref="Call"/> is the sender's call serial,
/// which ties a call's csd_queue_cpu lines to its ipi_send line. <see cref="Task"/> is the process
/// running on the CPU, <see cref="IdleTask"/> or <see cref="KhugepagedTask"/>.
/// </summary>
public readonly record struct FtraceRecord(
    long TimeNs,
    int Cpu,
    FtraceEvent Event,
    int Task,
    int Peer,
    long Call,
    CsdFunc Func,
    int Pages,
    TlbFlushReason Reason,
    bool Ipi,
    int Recorder,
    int Seq) : IStateRecord<FtraceRecord>
{
    /// <summary>The idle task, swapper (<c>&lt;idle&gt;-0</c>).</summary>
    public const int IdleTask = -1;

    /// <summary>The khugepaged kernel thread.</summary>
    public const int KhugepagedTask = -2;

    /// <summary>
    /// khugepaged's pid: whatever the boot gave it, an early kthread's. The model shows a fixed
    /// stand-in below the processes' (which start at 1000).
    /// </summary>
    public const int KhugepagedPid = 200;

    public void Write(StateWriter w)
    {
        w.Long(TimeNs);
        w.Int(Cpu);
        w.Enum(Event);
        w.Int(Task);
        w.Int(Peer);
        w.Long(Call);
        w.Enum(Func);
        w.Int(Pages);
        w.Enum(Reason);
        w.Bool(Ipi);
        w.Int(Recorder);
        w.Int(Seq);
    }

    public static FtraceRecord Read(StateReader r) => new(r.Long(), r.Int(), r.Enum<FtraceEvent>(), r.Int(), r.Int(), r.Long(), r.Enum<CsdFunc>(), r.Int(),
        r.Enum<TlbFlushReason>(), r.Bool(), r.Int(), r.Int());
}

/// <summary>What a CPU's time went to, for the timeline export (beside the tracepoints).</summary>
public enum TimelineSlice
{
    /// <summary>sysvec_call_function: from the interrupt's arrival to its exit (entry, csd funcs, exit).</summary>
    Interrupt,
    /// <summary>do_idle()'s flush_smp_call_function_queue(): csds run from the idle loop, woken without an interrupt.</summary>
    IdleLoopCsds,
    /// <summary>An idle period in one cpuidle state, to the wake-up (its exit latency is <see cref="TimelineRecord.ExitNs"/>).</summary>
    Idle,
}

/// <summary>A span of one CPU's time: <paramref name="State"/> names an idle state; <paramref name="ExitNs"/> is its exit latency paid on waking.</summary>
public readonly record struct TimelineRecord(long StartNs, long EndNs, int Cpu, TimelineSlice Kind, string? State, long ExitNs) : IStateRecord<TimelineRecord>
{
    public void Write(StateWriter w)
    {
        w.Long(StartNs);
        w.Long(EndNs);
        w.Int(Cpu);
        w.Enum(Kind);
        w.NullableString(State);
        w.Long(ExitNs);
    }

    public static TimelineRecord Read(StateReader r) => new(r.Long(), r.Long(), r.Int(), r.Enum<TimelineSlice>(), r.NullableString(), r.Long());
}

/// <summary>Which part of a run to record: events at or after <see cref="FromNs"/> and before <see cref="ToNs"/>.</summary>
public sealed record FtraceWindow(long FromNs, long ToNs)
{
    public static FtraceWindow Whole { get; } = new(0, long.MaxValue);

    public bool Contains(long t) => t >= FromNs && t < ToNs;
}

/// <summary>
/// Renders records as the text of <c>/sys/kernel/tracing/trace</c> (tracer nop, with the
/// irq-info columns): <c>TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: FIELDS</c>, in the
/// TP_printk formats of include/trace/events/{tlb,ipi,csd}.h. Timestamps are seconds with
/// microseconds, as the default local clock prints them. <c>%p</c> pointers are hashed in real
/// traces; a csd here prints a stable value derived from its (sender, target) per-CPU slot.
/// </summary>
public static class FtraceText
{
    public const string FlushTlbFunc = "flush_tlb_func", TlbRemoveTableSmpSync = "tlb_remove_table_smp_sync";
    private const string Callback = "generic_smp_call_function_single_interrupt";

    public static string ReasonText(TlbFlushReason r) => r switch
    {
        TlbFlushReason.FlushOnTaskSwitch => "flush on task switch",
        TlbFlushReason.RemoteShootdown => "remote shootdown",
        TlbFlushReason.LocalShootdown => "local shootdown",
        TlbFlushReason.LocalMmShootdown => "local mm shootdown",
        TlbFlushReason.RemoteSendIpi => "remote ipi send",
        _ => "remote wrong CPU",
    };

    public static string FuncName(CsdFunc f) => f == CsdFunc.FlushTlbFunc ? FlushTlbFunc : TlbRemoveTableSmpSync;

    /// <summary>
    /// The global order: time, then CPU, then the recording entity and its own order. An
    /// ipi_send comes after a csd_queue_cpu of the same nanosecond: the IPI follows the last llist_add.
    /// </summary>
    public static List<FtraceRecord> Order(IEnumerable<FtraceRecord> records)
    {
        var list = records.ToList();
        list.Sort((a, b) =>
        {
            var c = a.TimeNs.CompareTo(b.TimeNs);
            if (c == 0) c = a.Cpu.CompareTo(b.Cpu);
            if (c == 0) c = (a.Event == FtraceEvent.IpiSend).CompareTo(b.Event == FtraceEvent.IpiSend);
            if (c == 0) c = a.Recorder.CompareTo(b.Recorder);
            return c != 0 ? c : a.Seq.CompareTo(b.Seq);
        });
        return list;
    }

    public static string Render(IReadOnlyList<FtraceRecord> ordered, int nrCpus, IReadOnlyList<string> processNames)
    {
        // ipi_send_cpumask's mask: the CPUs of the call whose csd_queue_cpu saw an empty queue.
        var ipiTargets = new Dictionary<(int, long), List<int>>();
        foreach (var r in ordered)
            if (r.Event == FtraceEvent.CsdQueueCpu && r.Ipi)
            {
                if (!ipiTargets.TryGetValue((r.Cpu, r.Call), out var l)) ipiTargets[(r.Cpu, r.Call)] = l = new List<int>();
                l.Add(r.Peer);
            }

        var sb = new StringBuilder();
        sb.Append("# tracer: nop\n#\n");
        sb.Append(CultureInfo.InvariantCulture, $"# entries-in-buffer/entries-written: {ordered.Count}/{ordered.Count}   #P:{nrCpus}\n");
        sb.Append("#\n#                                _-----=> irqs-off/BH-disabled\n");
        sb.Append("#                               / _----=> need-resched\n");
        sb.Append("#                              | / _---=> hardirq/softirq\n");
        sb.Append("#                              || / _--=> preempt-depth\n");
        sb.Append("#                              ||| / _-=> migrate-disable\n");
        sb.Append("#                              |||| /     delay\n");
        sb.Append("#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n");
        sb.Append("#              | |         |   |||||     |         |\n");
        foreach (var r in ordered)
        {
            string body, flags;
            switch (r.Event)
            {
                case FtraceEvent.TlbFlush:
                    flags = r.Reason == TlbFlushReason.RemoteSendIpi ? "...1." : r.Reason == TlbFlushReason.LocalMmShootdown ? "d..1." : "d.h1.";
                    body = string.Create(CultureInfo.InvariantCulture, $"tlb_flush: pages:{r.Pages} reason:{ReasonText(r.Reason)} ({(int)r.Reason})");
                    break;
                case FtraceEvent.CsdQueueCpu:
                    flags = "...1.";
                    body = string.Create(CultureInfo.InvariantCulture,
                        $"csd_queue_cpu: cpu={r.Peer} callsite={Callsite(r.Func)} func={FuncName(r.Func)} csd={Csd(r.Cpu, r.Peer)}");
                    break;
                case FtraceEvent.IpiSend:
                {
                    flags = "...1.";
                    if (!ipiTargets.TryGetValue((r.Cpu, r.Call), out var targets)) continue;
                    body = targets.Count == 1
                        ? string.Create(CultureInfo.InvariantCulture, $"ipi_send_cpu: cpu={targets[0]} callsite={Callsite(r.Func)} callback={Callback}")
                        : $"ipi_send_cpumask: cpumask={Bitmask(targets, nrCpus)} callsite={Callsite(r.Func)} callback={Callback}";
                    break;
                }
                case FtraceEvent.CsdFunctionEntry:
                    flags = "d.h1.";
                    body = $"csd_function_entry: func={FuncName(r.Func)}, csd={Csd(r.Peer, r.Cpu)}";
                    break;
                default:
                    flags = "d.h1.";
                    body = $"csd_function_exit: func={FuncName(r.Func)}, csd={Csd(r.Peer, r.Cpu)}";
                    break;
            }
            var task = r.Task switch
            {
                FtraceRecord.IdleTask => "<idle>-0",
                FtraceRecord.KhugepagedTask => $"khugepaged-{FtraceRecord.KhugepagedPid}",
                _ => $"{Comm(processNames[r.Task])}-{ProcessSpec.PidOf(r.Task)}",
            };
            sb.Append(CultureInfo.InvariantCulture, $"{task,22} [{r.Cpu:000}] {flags} {r.TimeNs / 1_000_000_000,5}.{r.TimeNs / 1000 % 1_000_000:000000}: {body}\n");
        }
        return sb.ToString();
    }

    /// <summary>Whoever called smp_call_function_many_cond(): on_each_cpu_cond_mask() for a flush, smp_call_function() for the sync.</summary>
    private static string Callsite(CsdFunc f) => f == CsdFunc.FlushTlbFunc ? "on_each_cpu_cond_mask" : "smp_call_function";

    /// <summary>TASK_COMM_LEN is 16: comm holds at most 15 characters.</summary>
    private static string Comm(string name) => name.Length <= 15 ? name : name[..15];

    /// <summary>A stable stand-in for the hashed %p of per_cpu_ptr(cfd->csd, target) on the sender.</summary>
    private static string Csd(int sender, int target) =>
        ((uint)(sender * 0x9E3779B1u ^ (uint)target * 0x85EBCA77u)).ToString("x16", CultureInfo.InvariantCulture);

    /// <summary>%*pb of a cpumask: hex in 32-bit chunks, most significant first, comma separated.</summary>
    public static string Bitmask(IEnumerable<int> cpus, int nrCpus)
    {
        var chunks = new uint[(nrCpus + 31) / 32];
        foreach (var c in cpus) chunks[c / 32] |= 1u << (c % 32);
        var sb = new StringBuilder();
        var firstBits = nrCpus % 32 == 0 ? 32 : nrCpus % 32;
        for (var i = chunks.Length - 1; i >= 0; i--)
        {
            var width = i == chunks.Length - 1 ? (firstBits + 3) / 4 : 8;
            if (i != chunks.Length - 1) sb.Append(',');
            sb.Append(chunks[i].ToString("x", CultureInfo.InvariantCulture).PadLeft(width, '0'));
        }
        return sb.ToString();
    }
}
