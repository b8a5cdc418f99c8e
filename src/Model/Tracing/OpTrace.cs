using System.Collections.Immutable;
using Shootdown.Model.State;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Tracing;

/// <summary>A step of a kernel operation, as the initiator lives it.</summary>
public enum StepKind
{
    /// <summary>huge_pmd_unshare() -> tlb_unshare_pmd_ptdesc(): drop this sharer from the shared PMD table's count.</summary>
    TlbUnsharePmdPtdesc,
    /// <summary>arch/x86/mm/tlb.c flush_tlb_mm_range().</summary>
    FlushTlbMmRange,
    /// <summary>mm/mmu_gather.c tlb_remove_table_sync_rcu(): synchronize_rcu().</summary>
    TlbRemoveTableSyncRcu,
    /// <summary>mm/mmu_gather.c tlb_remove_table_sync_one().</summary>
    TlbRemoveTableSyncOne,
}

/// <summary>
/// One traced kernel operation, in virtual nanoseconds: its steps, each step's
/// smp_call_function_many_cond() with every target, and the host's carriers (opaque tokens, such
/// as the engine span that was running when a step moved on).
/// </summary>
public sealed record OpTrace(
    int Initiator,
    long Serial,
    OpType Type,
    int Process,
    int MmEntity,
    long ArrivalNs,
    long StartNs,
    long EndNs,
    ImmutableArray<StepTrace> Steps,
    ImmutableArray<object> Carriers);

/// <summary>
/// A step from its start to the moment the initiator moved on. <see cref="Outcome"/> says what
/// the step did: "native_flush_tlb_multi", "local flush", "no flush" (mm not loaded here and in
/// no other CPU's mask), "broadcast", or why the sync was skipped.
/// </summary>
public sealed record StepTrace(
    StepKind Kind,
    long StartNs,
    long EndNs,
    string Outcome,
    int Pages,
    bool FullFlush,
    bool FreedTables,
    CallTrace? Call) : IStateRecord<StepTrace>
{
    public void Write(StateWriter w)
    {
        w.Enum(Kind);
        w.Long(StartNs);
        w.Long(EndNs);
        w.String(Outcome);
        w.Int(Pages);
        w.Bool(FullFlush);
        w.Bool(FreedTables);
        w.Bool(Call is not null);
        Call?.Write(w);
    }

    public static StepTrace Read(StateReader r) =>
        new(r.Enum<StepKind>(), r.Long(), r.Long(), r.String(), r.Int(), r.Bool(), r.Bool(), r.Bool() ? CallTrace.Read(r) : null);
}

/// <summary>
/// kernel/smp.c smp_call_function_many_cond() with wait=1: from the first csd setup to the end
/// of the loop over the targets, the IPIs sent, the end of csd_lock_wait(), and every target.
/// </summary>
public sealed record CallTrace(
    CsdFunc Func,
    long StartNs,
    long LoopEndNs,
    long IpisSentNs,
    bool RanLocal,
    long WaitDoneNs,
    ImmutableArray<TargetTrace> Targets) : IStateRecord<CallTrace>
{
    public void Write(StateWriter w)
    {
        w.Enum(Func);
        w.Long(StartNs);
        w.Long(LoopEndNs);
        w.Long(IpisSentNs);
        w.Bool(RanLocal);
        w.Long(WaitDoneNs);
        w.Items(Targets.AsSpan());
    }

    public static CallTrace Read(StateReader r) => new(r.Enum<CsdFunc>(), r.Long(), r.Long(), r.Long(), r.Bool(), r.Long(), r.Items<TargetTrace>());

    /// <summary>Targets whose csd joined a non-empty call_single_queue: no new interrupt was raised for them.</summary>
    public int Coalesced => Targets.Count(t => t.Coalesced);

    /// <summary>Targets whose cond_func (should_flush_tlb) said no: nothing was queued.</summary>
    public int Declined => Targets.Count(t => t.Declined);
}

/// <summary>
/// One target of a call: when its csd landed on the target's queue, when the IPI arrived (0 for a
/// CPU not in the IPI's mask: its queue was busy, or it was woken without an IPI), when the func
/// started and when csd_unlock() ran there, and when the initiator saw the answer. A declined
/// target has only the landing and the answer.
/// </summary>
public readonly record struct TargetTrace(
    int Cpu,
    long QueuedNs,
    long IpiArrivalNs,
    long FuncStartNs,
    long UnlockNs,
    long AnsweredNs,
    bool Declined,
    bool Coalesced) : IStateRecord<TargetTrace>
{
    public void Write(StateWriter w)
    {
        w.Int(Cpu);
        w.Long(QueuedNs);
        w.Long(IpiArrivalNs);
        w.Long(FuncStartNs);
        w.Long(UnlockNs);
        w.Long(AnsweredNs);
        w.Bool(Declined);
        w.Bool(Coalesced);
    }

    public static TargetTrace Read(StateReader r) => new(r.Int(), r.Long(), r.Long(), r.Long(), r.Long(), r.Long(), r.Bool(), r.Bool());
}
