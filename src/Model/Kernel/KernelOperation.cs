using Shootdown.Model.Topology;
using Shootdown.Model.Tracing;
using Shootdown.Model.Workload;
using Shootdown.Model.Safety;

namespace Shootdown.Model.Kernel;

/// <summary>Which wait of a kernel operation is in progress: what an <c>OpStepDone</c> ends.</summary>
public enum OpPhase { Arrived, FlushBegin, PmdUnshare, CpumaskRead, Flush, Sync, SyncRcu }

/// <summary>
/// A kernel operation one CPU is executing (a collapse, an unshare, a munmap…), from its first
/// step to its last: where it is in its kernel function, and what the result records of it.
/// </summary>
public sealed class KernelOperation(long serial, int stream, OpStreamSpec spec, bool inKhugepaged, long arrival, long start)
{
    public long Serial { get; } = serial;
    public int Stream { get; } = stream;
    public OpStreamSpec Spec { get; } = spec;
    /// <summary>The operation runs in the khugepaged thread, not in the process (<see cref="SimulationSetup.RunsInKhugepaged(int, int)"/>).</summary>
    public bool InKhugepaged { get; } = inKhugepaged;
    public long Arrival { get; } = arrival;
    public long Start { get; } = start;

    /// <summary>The next step of the operation's kernel function (<see cref="KernelOperations.Continue"/>).</summary>
    public int Step { get; set; }
    public OpPhase Phase { get; set; }

    // --- the gather's state (struct mmu_gather, as far as the model needs it)
    /// <summary>tlb->freed_tables: the flush must reach lazy CPUs too.</summary>
    public bool FreedTables { get; set; }
    /// <summary>hugetlb: this unshare left the table to a single owner, who may now reuse it.</summary>
    public bool FullyUnshared { get; set; }
    /// <summary>huge_pmd_unshare() found a shared table to drop.</summary>
    public bool WasShared { get; set; }
    /// <summary>The mm_cpumask the flush read (or the sync's own read of it).</summary>
    public CpuMask? FlushedMask { get; set; }

    // --- what the result records
    public bool FullFlush { get; set; }
    public bool Synced { get; set; }
    public int FlushIpis { get; set; }
    public int SyncIpis { get; set; }
    public int Collateral { get; set; }
    /// <summary>How the flush reached the other CPUs, and when it started.</summary>
    public TlbFlushMechanism Mechanism { get; set; } = TlbFlushMechanism.None;
    public long FlushNs { get; set; }
    /// <summary>What the sync on this path did, for the safety report.</summary>
    public string SyncOutcome { get; set; } = "no sync on this path";
    /// <summary>synchronize_rcu() ran: every reader that began before it has finished.</summary>
    public bool WaitedGracePeriod { get; set; }
    /// <summary>CPUs that took an interrupt for this operation; kept only when the run checks safety.</summary>
    public CpuMask.Builder? Interrupted { get; set; }
    /// <summary>Where this operation's time went in its calls so far.</summary>
    public Results.InitiatorTime Time { get; set; }
    /// <summary>Set when the operation is sampled for tracing.</summary>
    public OpTraceBuilder? Trace { get; set; }
    /// <summary>Handler time this CPU had stolen when the current step began; interrupts taken meanwhile delay the step.</summary>
    public long StolenAtStepStart { get; set; }
}
