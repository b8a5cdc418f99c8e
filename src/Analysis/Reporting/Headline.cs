using System.Globalization;
using Shootdown.Analysis.Runs;
using Shootdown.Model.Workload;

namespace Shootdown.Analysis.Reporting;

/// <summary>The one sentence a kernel developer reads first.</summary>
public static class Headline
{
    /// <summary>
    /// Each other policy against the first: collateral IPIs, the key operation's latency (p99 where
    /// the pooled samples support it, else the max, with n), and the real-time CPUs' interrupts.
    /// Over replicates every figure is a median with its interval, as in the table.
    /// </summary>
    public static string For(ReplicateSet set)
    {
        if (set.Policies.Count < 2) return Describe(set);
        var collateral = Figures.Totals(set).First(f => f.Key == "collateral_ipis");
        var rt = Figures.Totals(set).FirstOrDefault(f => f.Key == "rt_interrupts");
        string Cell(Figure f, int policy) => f.Cell(f.Over(set, policy), set.Count);
        var parts = new List<string>();
        for (var other = 1; other < set.Policies.Count; other++)
        {
            var sentence = $"{set.Policies[other]}: {Cell(collateral, other)} collateral IPIs vs {Cell(collateral, 0)} in {set.Policies[0]}";
            if (KeyOperation(set.First.Runs[0].Result) is { } t
                && PooledLatency.Of(set, 0, t) is { } a && PooledLatency.Of(set, other, t) is { } b)
            {
                sentence += a.P99Ns is { } pa && b.P99Ns is { } pb
                    ? $"; {OperationName(t)} p99 {Us(pb)} µs vs {Us(pa)} µs (n={N(b.N)} and {N(a.N)})"
                    : $"; {OperationName(t)} max {Us(b.MaxNs)} µs vs {Us(a.MaxNs)} µs (n={N(b.N)} and {N(a.N)}, too few for a p99)";
            }
            if (rt is not null) sentence += $"; real-time CPUs took {Cell(rt, other)} interrupts vs {Cell(rt, 0)}";
            parts.Add(sentence);
        }
        return string.Join(". ", parts) + ".";
    }

    /// <summary>One run's headline.</summary>
    public static string For(Comparison c) => For(ReplicateSet.Of(c));

    /// <summary>An operation type's tail latency as far as its samples support: "p99 X µs", else "max X µs (n=N)".</summary>
    public static string Tail(Model.Results.LatencySummary s) =>
        s.P99Ns is { } p99 ? $"p99 {Us(p99)} µs" : $"max {Us(s.MaxNs)} µs (n={N(s.Count)})";

    private static string Describe(ReplicateSet set)
    {
        var totals = Figures.Totals(set);
        string Cell(string key)
        {
            var f = totals.First(t => t.Key == key);
            return f.Cell(f.Over(set, 0), set.Count);
        }
        return $"{set.Policies[0]}: {Cell("csds_queued")} csds queued, {Cell("ipis_received")} IPIs, {Cell("collateral_ipis")} collateral.";
    }

    /// <summary>The operation with a sync, if any: that is where the policies differ.</summary>
    public static OpType? KeyOperation(Model.Results.PolicyResult r) =>
        r.ByType.OrderBy(s => s.Type switch { OpType.CollapseHugePage => 0, OpType.HugetlbUnshare => 1, _ => 2 }).Select(s => (OpType?)s.Type).FirstOrDefault();

    public static string OperationName(OpType t) => t switch
    {
        OpType.CollapseHugePage => "collapse",
        OpType.HugetlbUnshare => "unshare",
        _ => OpTypeNames.Scenario.NameOf(t),
    };

    public static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
    public static string Us(double ns) => (ns / 1000).ToString("0.0", CultureInfo.InvariantCulture);
}
