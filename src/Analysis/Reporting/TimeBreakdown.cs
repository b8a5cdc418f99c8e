using System.Globalization;
using Shootdown.Analysis.Runs;
using Shootdown.Model.Workload;

namespace Shootdown.Analysis.Reporting;

/// <summary>
/// Where the time goes, pooled over a set's replicates. For an operation type: its initiator's
/// mean latency split into the sender's loop over the targets (cond_func, csd_lock(),
/// llist_add()), the IPI sends, the func run locally with SCF_RUN_LOCAL, csd_lock_wait(), and
/// the rest (a flush done before the IPIs, an RCU grace period, interrupts the initiator took).
/// For the CPUs that took interrupts: idle-state exits, interrupt entry and exit, and the
/// handlers (csd funcs); the last two are the stolen time, split.
/// </summary>
public static class TimeBreakdown
{
    /// <summary>The parts of one operation type's mean latency, in ns, in <see cref="OperationParts"/>' order.</summary>
    public sealed record Operation(OpType Type, int N, double MeanLatencyNs, double[] PartsNs);

    /// <summary>Machine-wide (or real-time CPUs') sums per replicate, averaged over replicates, in <see cref="TargetParts"/>' order.</summary>
    public sealed record Targets(double[] PartsNs);

    /// <summary>Short names, for the table's one line: the report and docs/outputs.md say what each is.</summary>
    public static readonly string[] OperationParts = ["loop", "IPIs", "local", "wait", "rest"];
    public static readonly string[] OperationKeys = ["loop_ns", "ipi_send_ns", "local_func_ns", "wait_ns", "rest_ns"];
    public static readonly string[] TargetParts = ["idle exit", "entry+exit", "handler"];
    public static readonly string[] TargetKeys = ["idle_exit_ns", "entry_exit_ns", "handler_ns"];

    public static Operation? Of(ReplicateSet set, int policy, OpType type)
    {
        var ops = set.Replicates.SelectMany(c => c.Runs[policy].Result.Ops.Where(o => o.Type == type)).ToList();
        if (ops.Count == 0) return null;
        double Mean(Func<Model.Results.OpRecord, long> part) => ops.Average(o => (double)part(o));
        return new Operation(type, ops.Count, Mean(o => o.LatencyNs),
        [
            Mean(o => o.Time.LoopNs), Mean(o => o.Time.IpiSendNs), Mean(o => o.Time.LocalFuncNs), Mean(o => o.Time.WaitNs),
            Mean(o => o.LatencyNs - o.Time.CallsNs),
        ]);
    }

    /// <summary>Over every CPU, or only <paramref name="cpus"/> (the real-time ones).</summary>
    public static Targets OfTargets(ReplicateSet set, int policy, IReadOnlyCollection<int>? cpus = null)
    {
        var counters = set.Replicates.Select(c => c.Runs[policy].Result.Cpus.Where(x => cpus is null || cpus.Contains(x.Cpu)).ToList()).ToList();
        double Mean(Func<Model.Results.CpuCounters, long> part) => counters.Average(list => (double)list.Sum(part));
        return new Targets([Mean(x => x.IdleExitNs), Mean(x => x.EntryExitNs), Mean(x => x.HandlerNs)]);
    }

    /// <summary>Shares in whole percent, in the order given, as "71/0/0/27/2".</summary>
    public static string Shares(double[] parts)
    {
        var total = parts.Sum();
        return total <= 0 ? "-" : string.Join("/", parts.Select(p => (100 * p / total).ToString("0", CultureInfo.InvariantCulture)));
    }
}
