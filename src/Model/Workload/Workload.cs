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
    long? StopNs = null);

/// <summary>
/// A stream of operations issued from one CPU against one process's mm. Arrivals are Poisson
/// at <see cref="RatePerSecond"/>, at the explicit <see cref="AtNs"/> times, or back to back.
/// </summary>
public sealed record OpStreamSpec(
    OpType Type,
    int Process,
    int Cpu,
    int Pages,
    double? RatePerSecond = null,
    ImmutableArray<long> AtNs = default,
    bool BackToBack = false);

/// <summary>Periodic intervals with IRQs disabled (GUP-fast, PAE reads, spinlocks with irqsave).</summary>
public sealed record IrqOffSpec(ImmutableArray<int> Cpus, long PeriodNs, long DurationNs);

/// <summary>
/// A hugetlb mapping whose PMD tables are shared by several processes. The first process in
/// <see cref="Sharers"/> owns the table; it stays with whoever is last.
/// </summary>
public sealed record HugetlbShareSpec(string Name, ImmutableArray<int> Sharers);

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
    long OsnoisePeriodNs = 1_000_000_000);
