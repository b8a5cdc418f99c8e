using System.Collections.Immutable;
using Shootdown.Analysis.Runs;

namespace Shootdown.Analysis.Reporting;

/// <summary>
/// Where a farmed run put each point's policies, and its wall time beside the sum of the runs'
/// own wall times (what running them one after another would take, were each as fast alone).
/// </summary>
public static class FarmReport
{
    /// <summary>The summary line, after a line per run with <paramref name="perRun"/>.</summary>
    public static void Write(TextWriter output, ImmutableArray<Comparison> comparisons, TimeSpan wall, bool perRun = true)
    {
        var runs = comparisons.SelectMany((c, point) => c.Runs.Select(r => (Point: point + 1, Run: r))).ToList();
        var silos = runs.SelectMany(r => r.Run.Placement?.PartitionSilos ?? []).Distinct().Count();
        foreach (var (point, run) in runs.Where(_ => perRun))
            output.WriteLine($"shootdown: farm: point {point} {run.Result.Policy} on {string.Join(" ", run.Placement?.PartitionSilos ?? [])} " +
                             $"({run.Wall.TotalSeconds:0.00} s)");
        var sum = runs.Sum(r => r.Run.Wall.TotalSeconds);
        var where = silos > 0 ? $"{silos} silos" : $"{Environment.ProcessorCount} cores";
        output.WriteLine($"shootdown: farm: {runs.Count} runs on {where} in {wall.TotalSeconds:0.00} s of wall time; " +
                         $"their own wall times add up to {sum:0.00} s ({sum / wall.TotalSeconds:0.00}x)");
    }
}
