using System.Text;
using Shootdown.Analysis.Runs;
using Shootdown.Model.Statistics;
using static Shootdown.Analysis.Reporting.Headline;

namespace Shootdown.Analysis.Reporting;

/// <summary>
/// <c>run --hist</c>: the distributions behind the table, as bpftrace prints its <c>hist()</c>
/// maps, pooled over every replicate: each operation type's latency in virtual ns, and the
/// call-function interrupts each CPU took.
/// </summary>
public static class TerminalHistograms
{
    public static string Render(ReplicateSet set)
    {
        var sb = new StringBuilder();
        foreach (var type in Figures.OperationTypes(set))
        for (var p = 0; p < set.Policies.Count; p++)
        {
            var h = Log2Histogram.Of(set.Replicates.SelectMany(c => c.Runs[p].Result.Ops.Where(o => o.Type == type).Select(o => o.LatencyNs)));
            sb.Append(h.Render($"@latency_ns[{OperationName(type)}, {set.Policies[p]}]:")).Append('\n');
        }
        for (var p = 0; p < set.Policies.Count; p++)
        {
            var h = Log2Histogram.Of(set.Replicates.SelectMany(c => c.Runs[p].Result.Cpus.Select(x => x.Cal)));
            sb.Append(h.Render($"@interrupts_per_cpu[{set.Policies[p]}]:")).Append('\n');
        }
        return sb.ToString();
    }
}
