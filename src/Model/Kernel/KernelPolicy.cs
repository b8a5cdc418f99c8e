using Shootdown.Model.Safety;
namespace Shootdown.Model.Kernel;

/// <summary>
/// When <c>tlb_remove_table_sync_one()</c> (and <c>tlb_remove_table_sync_rcu()</c>) return early.
/// </summary>
public enum SyncSkip
{
    /// <summary>Upstream before the series: the sync always runs.</summary>
    Never,
    /// <summary>Patch 1/2: return early when <c>tlb_table_flush_implies_ipi_broadcast()</c>, decided once at boot.</summary>
    WhenFlushImpliesIpiBroadcast,
    /// <summary>What-if, wrong on purpose: never sync. Shows what the sync protects.</summary>
    Always,
    /// <summary>
    /// The series' v3 design (dropped by v5): return early only when this gather's flush actually
    /// queued its csd on every other CPU of the mm_cpumask it read, none declined (a lazy CPU
    /// should_flush_tlb() passes over) and none left to the host (a preempted vCPU under KVM's
    /// PV flush): decided per operation, not once at boot.
    /// </summary>
    WhenFlushReachedEveryCpu,
}

/// <summary>Which CPUs <c>tlb_remove_table_sync_one()</c> interrupts when it does run.</summary>
public enum SyncScope
{
    /// <summary><c>smp_call_function()</c>: every online CPU but the caller (mm/mmu_gather.c).</summary>
    AllOnlineCpus,
    /// <summary>
    /// What-if after Yair Podemsky's 2023 series (not merged): only the CPUs in the mm's
    /// <c>mm_cpumask</c>, read when the sync starts.
    /// </summary>
    MmCpumask,
    /// <summary>
    /// Alternative (Peter Zijlstra, Feb 2026: the sync can be an RCU grace period): the sync
    /// becomes <c>synchronize_rcu_expedited()</c>, which IPIs only the CPUs not in an extended
    /// quiescent state (kernel/rcu/tree_exp.h <c>sync_rcu_exp_select_node_cpus()</c>): an idle
    /// CPU is skipped. A CPU inside an IRQs-off walk takes the IPI when the walk ends, which is
    /// what the sync needs, since an IRQs-off region is an RCU read-side critical section.
    /// </summary>
    CpusNotInEqs,
    /// <summary>
    /// Alternative (the same mail): the sync becomes <c>synchronize_rcu()</c>: no IPI at all; the
    /// caller sleeps through a normal grace period (<see cref="RcuTree"/>), which ends only once
    /// every CPU has passed a quiescent state, after any IRQs-off walk it was in.
    /// </summary>
    RcuGracePeriod,
    /// <summary>
    /// What-if after David Hildenbrand's "step 2": a conditional call over every online CPU whose
    /// cond_func is "inside a lockless page-table walk", so only those CPUs are interrupted.
    /// Every lockless walk pays the per-CPU tracking (<see cref="Costs.CostModel.LocklessWalkTrackingPercent"/>).
    /// </summary>
    CpusInLocklessWalk,
}

/// <summary>
/// What <c>__tlb_remove_table_one()</c> does when <c>tlb_remove_table()</c> cannot allocate a batch
/// page and <c>CONFIG_PT_RECLAIM</c> is off (mm/mmu_gather.c).
/// </summary>
public enum RemoveTableOneFallback
{
    /// <summary>After 1fb3d8c20bfa: <c>tlb_remove_table_sync_rcu()</c> (synchronize_rcu), then free.</summary>
    SyncRcu,
    /// <summary>v7.0 and before: <c>tlb_remove_table_sync_one()</c>, the IPI broadcast, then free.</summary>
    SyncOne,
}

/// <summary>
/// A kernel build, as data: each field is one decision the series under study (or a what-if
/// policy, or a config switch) changes. The engines and the model branch on these fields only,
/// never on a policy's name.
/// </summary>
public sealed record KernelPolicy
{
    public required string Name { get; init; }

    /// <summary>A sentence for listings and reports: what this policy is.</summary>
    public string Description { get; init; } = "";

    /// <summary>CONFIG_MMU_GATHER_RCU_TABLE_FREE. With it off, both sync functions are empty inlines (asm-generic/tlb.h).</summary>
    public bool MmuGatherRcuTableFree { get; init; } = true;

    /// <summary>
    /// CONFIG_PT_RECLAIM: <c>__tlb_remove_table_one()</c> frees the table with call_rcu() instead
    /// of syncing first. Typically y on x86-64 (docs/model.md, the kernel facts).
    /// </summary>
    public bool PtReclaim { get; init; } = true;

    /// <summary>
    /// CONFIG_GUP_GET_PXX_LOW_HIGH (32-bit x86 PAE and similar): <c>pmdp_get_lockless()</c> reads the
    /// two halves of a pmd with IRQs off, and <c>pmdp_get_lockless_sync()</c> is
    /// <c>tlb_remove_table_sync_one()</c>. Elsewhere the sync is an empty inline.
    /// </summary>
    public bool GupGetPxxLowHigh { get; init; }

    /// <summary>The <c>!CONFIG_PT_RECLAIM</c> branch of <c>__tlb_remove_table_one()</c>.</summary>
    public RemoveTableOneFallback RemoveTableOneFallback { get; init; } = RemoveTableOneFallback.SyncRcu;

    /// <summary>
    /// Before David Hildenbrand's fix series (Dec 2025) hugetlb did one
    /// <c>tlb_remove_table_sync_one()</c> per unshared PMD table, last sharer or not: the
    /// behaviour behind the 196-core fork/exit regression (docs/model.md, the kernel facts).
    /// </summary>
    public bool HugetlbSyncEveryUnshare { get; init; }

    /// <summary>
    /// Kernels before Nadav Amit's "x86/tlb: Concurrent TLB flushes" series: flush_tlb_mm_range()
    /// ran flush_tlb_func_local() first, then flush_tlb_others(). Since, flush_tlb_multi() sends
    /// the IPIs and runs the local flush (SCF_RUN_LOCAL) while they are in flight.
    /// </summary>
    public bool FlushLocalBeforeRemote { get; init; }

    /// <summary>When the sync returns early.</summary>
    public SyncSkip SyncSkip { get; init; } = SyncSkip.Never;

    /// <summary>Whom the sync interrupts when it runs.</summary>
    public SyncScope SyncScope { get; init; } = SyncScope.AllOnlineCpus;

    /// <summary>
    /// Patch 2/2: tlb_flush() passes <c>wake_lazy_cpus = freed_tables || unshared_tables</c>, so an
    /// unshare-only gather IPIs lazy CPUs too. Upstream passes <c>tlb->freed_tables</c> alone.
    /// </summary>
    public bool TlbFlushWakesLazyCpusForUnsharedTables { get; init; }

    /// <summary>
    /// arch/x86/mm/tlb.c native_pv_tlb_init(), run once from native_smp_prepare_boot_cpu():
    /// enable tlb_ipi_broadcast_key only if flush_tlb_multi is the native one (bare metal, or a
    /// KVM guest with KVM_HINTS_REALTIME) and the CPU has no INVLPGB. The answer is machine-wide
    /// and never revisited. Other architectures keep the generic
    /// <c>tlb_table_flush_implies_ipi_broadcast()</c>, which is false.
    /// </summary>
    public bool TlbTableFlushImpliesIpiBroadcast(MachineFeatures features) =>
        SyncSkip == SyncSkip.WhenFlushImpliesIpiBroadcast
        && features.NativeFlushTlbMulti
        && !features.Invlpgb;

    /// <summary>Whether the sync functions return early on this machine, and why, or null when they run.</summary>
    public string? SyncSkippedBecause(MachineFeatures features) =>
        !MmuGatherRcuTableFree ? "empty inline: no CONFIG_MMU_GATHER_RCU_TABLE_FREE"
        : SyncSkip == SyncSkip.Always ? "skipped: the always-skip what-if policy"
        : TlbTableFlushImpliesIpiBroadcast(features) ? "skipped: tlb_table_flush_implies_ipi_broadcast()"
        : null;

    /// <summary>
    /// Whether tlb_remove_table_sync_one() returns early for <paramref name="op"/>, run on CPU
    /// <paramref name="self"/>, and why: as <see cref="SyncSkippedBecause"/>, or, under the v3
    /// design, because this operation's flush already reached every CPU that could be walking.
    /// The v3 series predates tlb_remove_table_sync_rcu(), so only this sync has the per-operation test.
    /// </summary>
    public string? SyncOneSkippedBecause(MachineFeatures features, KernelOperation op, int self) =>
        SyncSkippedBecause(features)
        ?? (SyncSkip == SyncSkip.WhenFlushReachedEveryCpu && FlushReachedEveryCpu(op, self) ? "skipped: the flush IPI'd every other CPU of mm_cpumask (v3)" : null);

    /// <summary>The operation's flush was IPIs whose csds reached every other CPU of the mm_cpumask it read, at least one of them.</summary>
    private static bool FlushReachedEveryCpu(KernelOperation op, int self) =>
        op.Mechanism == TlbFlushMechanism.Ipi && op.FlushedMask is { } mask && op.FlushIpis > 0
        && op.FlushIpis == mask.Weight() - (mask.Test(self) ? 1 : 0);

    /// <summary>The kernel before the series: the sync always broadcasts to every online CPU.</summary>
    public static KernelPolicy Baseline { get; } = new()
    {
        Name = "baseline",
        Description = "the kernel before the series: the sync IPIs every online CPU",
    };

    /// <summary>"[PATCH 7.2 v10 0/2] skip redundant sync IPIs when TLB flush sent them", both patches applied.</summary>
    public static KernelPolicy Patched { get; } = new()
    {
        Name = "patched",
        Description = "v10 series: skip the sync when the flush implies an IPI broadcast (native x86 without INVLPGB)",
        SyncSkip = SyncSkip.WhenFlushImpliesIpiBroadcast,
        TlbFlushWakesLazyCpusForUnsharedTables = true,
    };

    /// <summary>What-if: never sync. Wrong on purpose, to show what the sync protects.</summary>
    public static KernelPolicy AlwaysSkip { get; } = new()
    {
        Name = "always-skip",
        Description = "what-if, wrong on purpose: never sync, whatever the flush mechanism",
        SyncSkip = SyncSkip.Always,
        TlbFlushWakesLazyCpusForUnsharedTables = true,
    };

    /// <summary>What-if: Yair Podemsky's 2023 idea, the sync IPIs only the mm's mm_cpumask.</summary>
    public static KernelPolicy SyncMmCpumask { get; } = new()
    {
        Name = "sync-mm-cpumask",
        Description = "what-if (Podemsky 2023): the sync IPIs only mm_cpumask",
        SyncScope = SyncScope.MmCpumask,
    };

    /// <summary>What-if: David Hildenbrand's step 2, IPI only CPUs inside a lockless walk, paying per-walk tracking.</summary>
    public static KernelPolicy SyncLocklessWalkers { get; } = new()
    {
        Name = "sync-lockless-walkers",
        Description = "what-if (Hildenbrand step 2): the sync IPIs only CPUs inside a lockless walk; walks pay the tracking",
        SyncScope = SyncScope.CpusInLocklessWalk,
    };

    /// <summary>The series' v3 design: skip the sync only when this operation's flush IPI'd every other CPU of mm_cpumask.</summary>
    public static KernelPolicy V3SkipIfIpisSent { get; } = new()
    {
        Name = "v3-skip-if-ipis-sent",
        Description = "the series' v3 design: skip the sync only when this flush IPI'd every other CPU of mm_cpumask",
        SyncSkip = SyncSkip.WhenFlushReachedEveryCpu,
        TlbFlushWakesLazyCpusForUnsharedTables = true,
    };

    /// <summary>Alternative (Zijlstra, Feb 2026): the sync as synchronize_rcu_expedited(), which skips idle CPUs.</summary>
    public static KernelPolicy SyncRcuExpedited { get; } = new()
    {
        Name = "sync-rcu-expedited",
        Description = "alternative (Zijlstra, Feb 2026): the sync as synchronize_rcu_expedited(), IPIs only CPUs not idle",
        SyncScope = SyncScope.CpusNotInEqs,
    };

    /// <summary>Alternative (Zijlstra, Feb 2026): the sync as synchronize_rcu(), a normal grace period, no IPI.</summary>
    public static KernelPolicy SyncRcu { get; } = new()
    {
        Name = "sync-rcu",
        Description = "alternative (Zijlstra, Feb 2026): the sync as synchronize_rcu(): no IPI, the caller waits a grace period",
        SyncScope = SyncScope.RcuGracePeriod,
    };

    public static IReadOnlyList<KernelPolicy> BuiltIn { get; } =
        [Baseline, Patched, AlwaysSkip, SyncMmCpumask, SyncLocklessWalkers, V3SkipIfIpisSent, SyncRcuExpedited, SyncRcu];

    public static KernelPolicy? Find(string name) =>
        BuiltIn.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
}
