using System.Globalization;
using Shootdown.Client.Running;
using Shootdown.Model.Workload;

namespace Shootdown.Client.Reporting;

/// <summary>The one sentence a kernel developer reads first.</summary>
public static class Headline
{
    public static string For(Comparison c)
    {
        if (c.Runs.Length < 2) return Describe(c.Runs[0]);
        var baseline = c.Runs[0].Result;
        var parts = new List<string>();
        foreach (var other in c.Runs.Skip(1).Select(r => r.Result))
        {
            var sentence = $"{other.Policy}: {N(other.CollateralIpis)} collateral IPIs vs {N(baseline.CollateralIpis)} in {baseline.Policy}";
            var type = KeyOperation(baseline);
            if (type is { } t)
            {
                var a = baseline.ByType.First(s => s.Type == t);
                var b = other.ByType.FirstOrDefault(s => s.Type == t);
                if (b is not null) sentence += $"; {OperationName(t)} p99 {Us(b.P99Ns)} µs vs {Us(a.P99Ns)} µs";
            }
            if (baseline.Realtime.Cpus > 0)
                sentence += $"; real-time CPUs took {N(other.Realtime.Interrupts)} interrupts vs {N(baseline.Realtime.Interrupts)}";
            parts.Add(sentence);
        }
        return string.Join(". ", parts) + ".";
    }

    private static string Describe(PolicyRun run) =>
        $"{run.Result.Policy}: {N(run.Result.TotalIpis)} IPIs sent, {N(run.Result.CollateralIpis)} collateral.";

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
