namespace Shootdown.Model.Results;

/// <summary>Per-CPU counters, as /proc/interrupts and osnoise would show them.</summary>
public sealed class CpuStats
{
    public CpuStats Snapshot() => (CpuStats)MemberwiseClone();

    /// <summary>CAL, irq_call_count: one per CALL_FUNCTION(_SINGLE)_VECTOR interrupt; includes TLB IPIs (since 2016).</summary>
    public long Cal { get; set; }

    /// <summary>TLB, irq_tlb_count: one per non-local flush_tlb_func() run, wrong-CPU and lazy exits included.</summary>
    public long Tlb { get; set; }

    /// <summary>csds drained by this CPU's interrupts (several can ride one interrupt).</summary>
    public long CsdsHandled { get; set; }

    /// <summary>tlb_remove_table_smp_sync csds drained.</summary>
    public long SyncCsdsHandled { get; set; }

    /// <summary>Virtual time spent in call-function interrupt handlers, entry to exit.</summary>
    public long StolenNs { get; set; }

    /// <summary>Virtual time spent leaving idle states to run csds (each state's exit latency).</summary>
    public long IdleExitNs { get; set; }

    /// <summary>The longest single interruption.</summary>
    public long MaxSingleNs { get; set; }

    /// <summary>osnoise's Max Noise: the most noise in any one osnoise period (<c>WorkloadSpec.OsnoisePeriodNs</c>).</summary>
    public long MaxPeriodNoiseNs { get; set; }
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
    bool Synced)
{
    public long LatencyNs => EndNs - StartNs;
}
