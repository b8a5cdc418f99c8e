using Shootdown.Model.State;

namespace Shootdown.Model.Results;

/// <summary>Per-CPU counters, as /proc/interrupts and osnoise would show them.</summary>
public sealed class CpuStats
{
    public CpuStats Snapshot() => (CpuStats)MemberwiseClone();

    public void WriteState(StateWriter w)
    {
        foreach (var counter in (ReadOnlySpan<long>)[Cal, Tlb, CsdsHandled, SyncCsdsHandled, StolenNs, IdleExitNs, EntryExitNs, HandlerNs, MaxSingleNs, MaxPeriodNoiseNs, IpisReceived])
            w.Long(counter);
    }

    public void ReadState(StateReader r)
    {
        (Cal, Tlb, CsdsHandled, SyncCsdsHandled, StolenNs) = (r.Long(), r.Long(), r.Long(), r.Long(), r.Long());
        (IdleExitNs, EntryExitNs, HandlerNs, MaxSingleNs, MaxPeriodNoiseNs, IpisReceived) = (r.Long(), r.Long(), r.Long(), r.Long(), r.Long(), r.Long());
    }

    /// <summary>A snapshot written as a nullable field (the /proc/interrupts at a trace window's edge).</summary>
    public static void WriteNullable(StateWriter w, CpuStats? stats)
    {
        w.Bool(stats is not null);
        stats?.WriteState(w);
    }

    public static CpuStats? ReadNullable(StateReader r)
    {
        if (!r.Bool()) return null;
        var stats = new CpuStats();
        stats.ReadState(r);
        return stats;
    }

    /// <summary>CAL, irq_call_count: one per CALL_FUNCTION(_SINGLE)_VECTOR interrupt; includes TLB IPIs (since 2016).</summary>
    public long Cal { get; set; }

    /// <summary>TLB, irq_tlb_count: one per non-local flush_tlb_func() run, wrong-CPU and lazy exits included.</summary>
    public long Tlb { get; set; }

    /// <summary>
    /// IPIs that reached this CPU: one per target of each send, the all-but-self shorthand and a
    /// hypercall's bitmap included. Fewer than the csds queued to it (a csd added to a queue that
    /// was not empty sends none, nor does waking a polling idle CPU) and more than the interrupts
    /// it took (<see cref="Cal"/>: the APIC merges a second IPI into one still pending).
    /// </summary>
    public long IpisReceived { get; set; }

    /// <summary>csds drained by this CPU's interrupts (several can ride one interrupt).</summary>
    public long CsdsHandled { get; set; }

    /// <summary>tlb_remove_table_smp_sync csds drained.</summary>
    public long SyncCsdsHandled { get; set; }

    /// <summary>Virtual time spent in call-function interrupt handlers, entry to exit.</summary>
    public long StolenNs { get; set; }

    /// <summary>Virtual time spent leaving idle states to run csds (each state's exit latency).</summary>
    public long IdleExitNs { get; set; }

    /// <summary>
    /// The part of <see cref="StolenNs"/> spent getting in and out of call-function interrupts:
    /// entry, the way in from user mode, a stopped tick's restart, exit.
    /// </summary>
    public long EntryExitNs { get; set; }

    /// <summary>The part of <see cref="StolenNs"/> spent in csd funcs (flush_tlb_func, the sync's empty func): StolenNs = EntryExitNs + HandlerNs.</summary>
    public long HandlerNs { get; set; }

    /// <summary>The longest single interruption.</summary>
    public long MaxSingleNs { get; set; }

    /// <summary>osnoise's Max Noise: the most noise in any one osnoise period (<c>WorkloadSpec.OsnoisePeriodNs</c>).</summary>
    public long MaxPeriodNoiseNs { get; set; }
}

/// <summary>
/// Where an initiator's time went in its smp_call_function_many_cond() calls (kernel/smp.c):
/// the loop over the targets (cond_func, csd_lock(), llist_add()), the IPI sends, the func run
/// here with SCF_RUN_LOCAL, and csd_lock_wait(). The rest of the operation's latency is its own
/// steps: a flush done here before the IPIs, an RCU grace period, interrupts it took.
/// </summary>
public readonly record struct InitiatorTime(long LoopNs, long IpiSendNs, long LocalFuncNs, long WaitNs)
{
    public long CallsNs => LoopNs + IpiSendNs + LocalFuncNs + WaitNs;

    public static InitiatorTime operator +(InitiatorTime a, InitiatorTime b) =>
        new(a.LoopNs + b.LoopNs, a.IpiSendNs + b.IpiSendNs, a.LocalFuncNs + b.LocalFuncNs, a.WaitNs + b.WaitNs);
}

/// <summary>One completed kernel operation, with what it cost its initiator and the machine.</summary>
public sealed record OpRecord(
    int Initiator,
    long Serial,
    Workload.OpType Type,
    int Process,
    long ArrivalNs,
    long StartNs,
    long EndNs,
    int FlushIpis,
    int SyncIpis,
    int CollateralIpis,
    bool FullFlush,
    bool Synced) : IStateRecord<OpRecord>
{
    public long LatencyNs => EndNs - StartNs;

    public void Write(StateWriter w)
    {
        w.Int(Initiator);
        w.Long(Serial);
        w.Enum(Type);
        w.Int(Process);
        w.Long(ArrivalNs);
        w.Long(StartNs);
        w.Long(EndNs);
        w.Int(FlushIpis);
        w.Int(SyncIpis);
        w.Int(CollateralIpis);
        w.Bool(FullFlush);
        w.Bool(Synced);
        w.Long(Time.LoopNs);
        w.Long(Time.IpiSendNs);
        w.Long(Time.LocalFuncNs);
        w.Long(Time.WaitNs);
    }

    public static OpRecord Read(StateReader r) =>
        new(r.Int(), r.Long(), r.Enum<Workload.OpType>(), r.Int(), r.Long(), r.Long(), r.Long(), r.Int(), r.Int(), r.Int(), r.Bool(), r.Bool())
        {
            Time = new InitiatorTime(r.Long(), r.Long(), r.Long(), r.Long()),
        };

    /// <summary>Where the initiator's time went in its calls; the digest leaves it out, since the timeline it is read from is in it already.</summary>
    public InitiatorTime Time { get; init; }
}
