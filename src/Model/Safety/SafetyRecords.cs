using System.Collections.Immutable;
using Shootdown.Model.State;
using Shootdown.Model.Topology;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Safety;

/// <summary>
/// How flush_tlb_multi reaches the other CPUs in one flush: the mechanism decides who takes an
/// interrupt, and so which lockless walkers the flush drains. Kept in each retire's record, so it
/// lives with the record.
/// </summary>
public enum TlbFlushMechanism
{
    /// <summary>No other CPU was in mm_cpumask: a local flush at most.</summary>
    LocalOnly,
    /// <summary>Call-function IPIs (native x86, KVM's non-preempted vCPUs, RISC-V without SBI).</summary>
    Ipi,
    /// <summary>AMD INVLPGB + TLBSYNC on a global ASID: no interrupt reaches any CPU.</summary>
    Invlpgb,
    /// <summary>A Hyper-V or Xen flush hypercall: the hypervisor flushes, no guest interrupt.</summary>
    Hypercall,
    /// <summary>arm64 <c>TLBI …IS</c>: hardware broadcast, no interrupt.</summary>
    TlbiBroadcast,
    /// <summary>RISC-V SBI remote fence: firmware, no Linux interrupt handler.</summary>
    SbiRemoteFence,
    /// <summary>No flush preceded the sync (a caller that syncs without flushing).</summary>
    None,
}

/// <summary>One lockless walk that happened: on which CPU, of which process's tables, from when to when (frozen time included).</summary>
public readonly record struct WalkRecord(int Cpu, WalkerKind Kind, int Process, long StartNs, long EndNs) : IStateRecord<WalkRecord>
{
    public void Write(StateWriter w)
    {
        w.Int(Cpu);
        w.Enum(Kind);
        w.Int(Process);
        w.Long(StartNs);
        w.Long(EndNs);
    }

    public static WalkRecord Read(StateReader r) => new(r.Int(), r.Enum<WalkerKind>(), r.Int(), r.Long(), r.Long());
}

/// <summary>Which walkers a retired table endangers.</summary>
public enum RetireHazard
{
    /// <summary>
    /// The table is reused or modified by its remaining owner (collapse_huge_page re-deposits it; the
    /// last hugetlb sharer may reuse it). IRQ-off walkers that loaded the old entry are the hazard;
    /// RCU walkers revalidate under the page-table lock, which these paths hold.
    /// </summary>
    IrqOffWalkers,
    /// <summary>
    /// pmdp_get_lockless_sync() after pmdp_collapse_flush() (retract_page_tables,
    /// try_collapse_pte_mapped_thp): its promise is that no PAE pmdp_get_lockless() reader that
    /// began before the clear is still reading. Only those readers are checked against it.
    /// </summary>
    PaeReaders,
    /// <summary>The table's memory is freed: every walker that could hold the old entry is a hazard.</summary>
    AllWalkers,
}

/// <summary>
/// A page table taken out of a process's tables by an operation: cleared from its upper level at
/// <see cref="ClearNs"/>, and reused or freed at <see cref="RetireNs"/>. <see cref="RcuDeferred"/>
/// frees wait for an RCU grace period, which by RCU's guarantee outlasts every walker that began
/// before it (IRQs-off sections are RCU read-side sections too): those are safe by construction.
/// <see cref="Interrupted"/> holds the CPUs that took an interrupt for this operation after the
/// clear (flush or sync); <see cref="FlushMask"/> the mm_cpumask the flush read, if it read one.
/// A hugetlb sharer that drops a table others still map clears it but frees nothing
/// (<see cref="FreesTable"/> false): its walkers' table is reused once the last sharer of the same
/// <see cref="Share"/> (the owner's process) leaves.
/// </summary>
public sealed record TableRetire(
    int Initiator,
    long Serial,
    OpType Op,
    int Process,
    long ClearNs,
    long RetireNs,
    RetireHazard Hazard,
    bool RcuDeferred,
    TlbFlushMechanism Flush,
    long FlushNs,
    CpuMask? FlushMask,
    CpuMask Interrupted,
    string Sync,
    int Share = -1,
    bool FreesTable = true) : IStateRecord<TableRetire>
{
    public void Write(StateWriter w)
    {
        w.Int(Initiator);
        w.Long(Serial);
        w.Enum(Op);
        w.Int(Process);
        w.Long(ClearNs);
        w.Long(RetireNs);
        w.Enum(Hazard);
        w.Bool(RcuDeferred);
        w.Enum(Flush);
        w.Long(FlushNs);
        w.Mask(FlushMask);
        w.Mask(Interrupted);
        w.String(Sync);
        w.Int(Share);
        w.Bool(FreesTable);
    }

    public static TableRetire Read(StateReader r) => new(r.Int(), r.Long(), r.Enum<OpType>(), r.Int(), r.Long(), r.Long(), r.Enum<RetireHazard>(),
        r.Bool(), r.Enum<TlbFlushMechanism>(), r.Long(), r.Mask(), r.Mask() ?? throw new InvalidDataException("a retired table without its interrupted CPUs"),
        r.String(), r.Int(), r.Bool());
}

/// <summary>A walker still inside its walk when the table it may have loaded was reused or freed.</summary>
public sealed record Violation(
    long TimeNs,
    int Cpu,
    WalkerKind Walker,
    long WalkStartNs,
    long WalkEndNs,
    int Initiator,
    long OpSerial,
    OpType Op,
    int Process,
    string Policy,
    string Why) : IStateRecord<Violation>
{
    public void Write(StateWriter w)
    {
        w.Long(TimeNs);
        w.Int(Cpu);
        w.Enum(Walker);
        w.Long(WalkStartNs);
        w.Long(WalkEndNs);
        w.Int(Initiator);
        w.Long(OpSerial);
        w.Enum(Op);
        w.Int(Process);
        w.String(Policy);
        w.String(Why);
    }

    public static Violation Read(StateReader r) => new(r.Long(), r.Int(), r.Enum<WalkerKind>(), r.Long(), r.Long(), r.Int(), r.Long(), r.Enum<OpType>(), r.Int(),
        r.String(), r.String());
}

/// <summary>One policy's safety verdict: how many walks were checked, and every violation found.</summary>
public sealed record SafetyReport(long Walks, long Retires, long RcuDeferredRetires, long ViolationCount, ImmutableArray<Violation> Violations)
    : IStateRecord<SafetyReport>
{
    public void Write(StateWriter w)
    {
        w.Long(Walks);
        w.Long(Retires);
        w.Long(RcuDeferredRetires);
        w.Long(ViolationCount);
        w.Items(Violations.AsSpan());
    }

    public static SafetyReport Read(StateReader r) => new(r.Long(), r.Long(), r.Long(), r.Long(), r.Items<Violation>());

    /// <summary>The report lists at most this many violations (the earliest); the count is exact.</summary>
    public const int MaxListed = 50;

    public static SafetyReport Combine(long retires, long rcuDeferred, IEnumerable<CpuSafety> cpus)
    {
        var list = cpus.ToList();
        var violations = list.SelectMany(c => c.Violations)
            .OrderBy(v => v.TimeNs).ThenBy(v => v.Cpu).ThenBy(v => v.Initiator).ThenBy(v => v.OpSerial).ThenBy(v => v.WalkStartNs)
            .Take(MaxListed).ToImmutableArray();
        return new SafetyReport(list.Sum(c => c.Walks), retires, rcuDeferred, list.Sum(c => c.ViolationCount), violations);
    }

    /// <summary>"0 violations in N walks", or the count.</summary>
    public string Verdict => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{ViolationCount:N0} violation{(ViolationCount == 1 ? "" : "s")} in {Walks:N0} walk{(Walks == 1 ? "" : "s")}");
}

/// <summary>One CPU's share of the check.</summary>
public sealed record CpuSafety(long Walks, long ViolationCount, ImmutableArray<Violation> Violations) : IStateRecord<CpuSafety>
{
    public void Write(StateWriter w)
    {
        w.Long(Walks);
        w.Long(ViolationCount);
        w.Items(Violations.AsSpan());
    }

    public static CpuSafety Read(StateReader r) => new(r.Long(), r.Long(), r.Items<Violation>());
}
