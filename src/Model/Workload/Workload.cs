using System.Collections.Immutable;

namespace Shootdown.Model.Workload;

/// <summary>The kernel operations a scenario can issue.</summary>
public enum OpType
{
    /// <summary>mm/khugepaged.c collapse_huge_page(): pmdp_collapse_flush() then tlb_remove_table_sync_one().</summary>
    CollapseHugePage,
    /// <summary>hugetlb huge_pmd_unshare() + tlb_flush_unshared_tables(): flush, and the sync only for the last sharer.</summary>
    HugetlbUnshare,
    /// <summary>munmap/mprotect-style flush_tlb_mm_range() with freed_tables=false and no sync: the control.</summary>
    FlushRange,
    /// <summary>
    /// munmap freeing a page table through the mmu_gather (mm/mmu_gather.c tlb_remove_table()):
    /// the flush with freed_tables, then the table goes to an RCU batch; when the batch page
    /// cannot be allocated, the <c>__tlb_remove_table_one()</c> fallback.
    /// </summary>
    MunmapFreeTables,
    /// <summary>mm/khugepaged.c retract_page_tables(): pmdp_collapse_flush(), pmdp_get_lockless_sync(), pte_free_defer().</summary>
    RetractPageTables,
    /// <summary>mm/khugepaged.c try_collapse_pte_mapped_thp(): the same three steps on one mm.</summary>
    TryCollapsePteMappedThp,
    /// <summary>
    /// What-if (Peter Zijlstra on v10 1/2): a caller that clears a table entry and calls
    /// tlb_remove_table_sync_one() with no TLB flush before it, then reuses the table.
    /// </summary>
    SyncWithoutFlush,
}

/// <summary>A fixed set of enum values and the name each goes by in one vocabulary (scenario files, kernel functions).</summary>
public sealed class NameTable<T>(params (T Value, string Name)[] names) where T : struct, Enum
{
    public IEnumerable<string> Names => names.Select(n => n.Name);

    public string NameOf(T value) => names.First(n => EqualityComparer<T>.Default.Equals(n.Value, value)).Name;

    public T? Parse(string name)
    {
        foreach (var (value, n) in names)
            if (n == name) return value;
        return null;
    }
}

/// <summary>The names an operation goes by: in scenarios, and as the kernel function it models.</summary>
public static class OpTypeNames
{
    public static NameTable<OpType> Scenario { get; } = new(
        (OpType.CollapseHugePage, "collapse_huge_page"),
        (OpType.HugetlbUnshare, "hugetlb_unshare"),
        (OpType.FlushRange, "flush_range"),
        (OpType.MunmapFreeTables, "munmap_free_tables"),
        (OpType.RetractPageTables, "retract_page_tables"),
        (OpType.TryCollapsePteMappedThp, "try_collapse_pte_mapped_thp"),
        (OpType.SyncWithoutFlush, "sync_without_flush"));

    public static NameTable<OpType> Kernel { get; } = new(
        (OpType.CollapseHugePage, "collapse_huge_page"),
        (OpType.HugetlbUnshare, "huge_pmd_unshare"),
        (OpType.FlushRange, "flush_tlb_range"),
        (OpType.MunmapFreeTables, "tlb_remove_table"),
        (OpType.RetractPageTables, "retract_page_tables"),
        (OpType.TryCollapsePteMappedThp, "try_collapse_pte_mapped_thp"),
        (OpType.SyncWithoutFlush, "sync_without_flush"));
}

/// <summary>The lockless page-table walkers the safety checker knows (docs/safety.md).</summary>
public enum WalkerKind
{
    /// <summary>mm/gup.c gup_fast(): IRQs off around the walk, on a CPU running the mm.</summary>
    GupFast,
    /// <summary><c>pte_offset_map()</c> under rcu_read_lock() (e.g. kswapd's page_vma_mapped_walk): preemptible, IRQs on.</summary>
    RcuPteOffsetMap,
    /// <summary>32-bit PAE <c>pmdp_get_lockless()</c>: IRQs off, two halves read, on any CPU (e.g. kswapd).</summary>
    PaePmdpGetLockless,
}

/// <summary>
/// A process: one mm, its threads and where they may run. Thread t starts on
/// <c>Cpus[t % Cpus.Length]</c>. With <see cref="RunMeanNs"/> and <see cref="SleepMeanNs"/> a thread
/// alternates exponential run and sleep periods (its CPU goes lazy while it sleeps); with
/// <see cref="MigrateMeanNs"/> it moves to a random CPU of its affinity list. At
/// <see cref="StopNs"/> every thread blocks for good: the process lives on, its CPUs go lazy
/// with its mm still loaded.
/// </summary>
public sealed record ProcessSpec(
    string Name,
    int Threads,
    ImmutableArray<int> Cpus,
    double? RunMeanNs = null,
    double? SleepMeanNs = null,
    double? MigrateMeanNs = null,
    long? StopNs = null)
{
    /// <summary>The pid of process <paramref name="process"/> (its index): the model numbers them from 1000, as consider_global_asid() and ftrace's task column read them.</summary>
    public static int PidOf(int process) => 1000 + process;

    /// <summary>The CPU thread <paramref name="thread"/> starts on: its affinity list round robin.</summary>
    public int StartCpuOf(int thread) => Cpus[thread % Cpus.Length];
}

/// <summary>
/// A stream of operations issued from one CPU against one process's mm. Arrivals are Poisson
/// at <see cref="RatePerSecond"/>, at the explicit <see cref="AtNs"/> times, or back to back.
/// A Poisson or back-to-back stream begins at <see cref="StartNs"/>; with <see cref="Count"/>
/// the stream ends after that many operations.
/// </summary>
public sealed record OpStreamSpec(
    OpType Type,
    int Process,
    int Cpu,
    int Pages,
    double? RatePerSecond = null,
    ImmutableArray<long> AtNs = default,
    bool BackToBack = false,
    double BatchAllocFailProbability = 0)
{
    public long StartNs { get; init; }
    public int? Count { get; init; }

    /// <summary>
    /// Replay of a captured trace: the CPUs the captured flush queued csds on, in place of
    /// mm_cpumask and should_flush_tlb() (the capture already applied both). Null: not a replay.
    /// </summary>
    public ImmutableArray<int>? FlushTargets { get; init; }

    /// <summary>Arrivals paced by khugepaged's sysfs knobs (<see cref="KhugepagedKnobs"/>) instead of a rate, times or back to back.</summary>
    public KhugepagedKnobs? Khugepaged { get; init; }

    /// <summary>The next operation is scheduled when one ends, not when one arrives: back to back, or a khugepaged pass.</summary>
    public bool Sequential => BackToBack || Khugepaged is not null;
}

/// <summary>
/// mm/khugepaged.c's pacing, from /sys/kernel/mm/transparent_hugepage/khugepaged/: each pass of
/// khugepaged_do_scan() visits PMD-sized ranges until it has counted <see cref="PagesToScan"/>
/// pages (HPAGE_PMD_NR a range), collapsing each one back to back; then khugepaged_wait_work()
/// sleeps <see cref="ScanSleepNs"/>. A huge page it cannot allocate ends the attempt and sleeps
/// <see cref="AllocSleepNs"/> instead. Kernel defaults: 4096 pages (8 ranges), 10 s, 60 s.
/// Every range visited is taken to be collapsible: the rate is khugepaged's ceiling.
/// </summary>
public sealed record KhugepagedKnobs(int PagesToScan, long ScanSleepNs, long AllocSleepNs, double AllocFailProbability)
{
    /// <summary>HPAGE_PMD_NR on x86-64.</summary>
    public const int PagesPerRange = 512;

    /// <summary>Ranges one pass visits: <c>while (progress &lt; pages_to_scan)</c>, HPAGE_PMD_NR at a time.</summary>
    public int RangesPerPass => (PagesToScan + PagesPerRange - 1) / PagesPerRange;

    /// <summary>
    /// The most collapses in <paramref name="spanNs"/>: a pass at the start and one after every
    /// scan sleep (a pass's own time not counted; with no sleep, at most one collapse a µs).
    /// </summary>
    public double MostCollapses(long spanNs) =>
        RangesPerPass * (1.0 + (ScanSleepNs == 0 ? Math.Max(0, spanNs) / 1e3 : Math.Floor(Math.Max(0, spanNs) / (double)ScanSleepNs)));
}

/// <summary>The walker kinds' names in scenarios.</summary>
public static class WalkerKinds
{
    public static NameTable<WalkerKind> Scenario { get; } = new(
        (WalkerKind.GupFast, "gup_fast"),
        (WalkerKind.RcuPteOffsetMap, "rcu_pte_offset_map"),
        (WalkerKind.PaePmdpGetLockless, "pae_pmdp_get_lockless"));
}

/// <summary>
/// Lockless walks of one process's page tables on some CPUs: on each CPU, walks start at
/// exponential intervals of mean <see cref="MeanIntervalNs"/> and last <see cref="DurationNs"/>.
/// A GUP-fast walk happens only if the CPU is running the process at that moment.
/// </summary>
public sealed record WalkerSpec(WalkerKind Kind, int Process, ImmutableArray<int> Cpus, double MeanIntervalNs, long DurationNs);

/// <summary>
/// Host preemption of vCPUs (what the guest sees in steal time): each CPU listed is preempted for
/// <see cref="DurationNs"/> once every <see cref="PeriodNs"/>, at a phase drawn from the seed.
/// A preempted vCPU runs nothing: its IRQs are not taken, its walks are frozen.
/// </summary>
public sealed record StealTimeSpec(ImmutableArray<int> Cpus, long PeriodNs, long DurationNs);
/// <summary>Periodic intervals with IRQs disabled (GUP-fast, PAE reads, spinlocks with irqsave).</summary>
public sealed record IrqOffSpec(ImmutableArray<int> Cpus, long PeriodNs, long DurationNs);

/// <summary>
/// A hugetlb mapping whose PMD tables are shared by several processes. The first process in
/// <see cref="Sharers"/> owns the tables; each stays with whoever is last. A mapping of
/// <see cref="Tables"/> PUD-sized (1 GiB on x86-64) ranges has that many PMD tables, each shared
/// by every sharer (huge_pmd_share() at fault time).
/// </summary>
public sealed record HugetlbShareSpec(string Name, ImmutableArray<int> Sharers, int Tables = 1);

/// <summary>
/// The workload. <see cref="OsnoisePeriodNs"/> is the osnoise tracer's period (rtla's default
/// is 1 s): noise is also summed per period, for the Max Noise column.
/// </summary>
public sealed record WorkloadSpec(
    ImmutableArray<ProcessSpec> Processes,
    ImmutableArray<OpStreamSpec> Operations,
    ImmutableArray<IrqOffSpec> IrqsOff,
    ImmutableArray<HugetlbShareSpec> HugetlbShares,
    ImmutableArray<int> RealtimeCpus,
    long TimesliceNs = 3_000_000,
    long OsnoisePeriodNs = 1_000_000_000)
{
    public ImmutableArray<WalkerSpec> Walkers { get; init; } = [];
    public ImmutableArray<StealTimeSpec> StealTime { get; init; } = [];

    /// <summary>
    /// The nohz_full= CPUs (CONFIG_NO_HZ_FULL): in user mode they run with the tick off and are
    /// in an extended quiescent state for RCU, and an interrupt from user mode pays context
    /// tracking's way out and back in.
    /// </summary>
    public ImmutableArray<int> NohzFullCpus { get; init; } = [];
}
