using Shootdown.Analysis.Runs;
using Shootdown.Scenarios;

namespace Shootdown.Client.Running;

/// <summary>
/// Whether a run fits this process before it starts (<see cref="RunEstimate"/>): a run that
/// cannot is refused in one line naming the field that asks for the most, instead of growing
/// until the runtime aborts with "Out of memory."; a very long one is said to be long.
/// </summary>
public static class Admission
{
    /// <summary>What this process may use: the machine's memory, or its container's limit, as the GC sees it.</summary>
    public static long AvailableBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>
    /// The embedded grain engine's memory beside the reference engine's for the same run: each
    /// message is copied, and partitions hold what they route (measured: storm-8192's two policies,
    /// 1.64 GB peak resident on the grain engine, 0.92 GB on the reference, on a 2-core machine).
    /// The parallel engine's entities hold their own queues, and its partitions what they route, as the grains' do.
    /// </summary>
    public const double GrainsOverhead = 2;

    /// <summary>Above this many events per policy, a run is said to be long before it starts.</summary>
    public const double LongRunEvents = 1e9;

    /// <summary>
    /// Why the runs of <paramref name="file"/> cannot fit this process (null if they can), and a
    /// warning when one is estimated to be very long; each point estimated once. On a running
    /// cluster the runs' state lives on its silos, so only the results kept here count.
    /// </summary>
    public static (string? Refusal, string? Warning) Check(ScenarioFile file, int replicates, EngineKind engine, bool onCluster, bool farmed, long available)
    {
        var runs = file.Points.Length * replicates;
        var concurrent = farmed ? Math.Min(Environment.ProcessorCount, runs) : 1;
        var overhead = onCluster ? 0 : engine == EngineKind.Reference ? 1 : GrainsOverhead;
        var longest = 0.0;
        for (var i = 0; i < file.Points.Length; i++)
        {
            var point = file.Points[i];
            var estimate = RunEstimate.Of(point.Scenario);
            if (estimate.Admit(available, concurrent, overhead, keptResults: runs) is { } line)
                return (file.IsSweep ? $"sweep point {i + 1} ({file.Settings(point.Values)}): {line}" : line, null);
            longest = Math.Max(longest, estimate.Events);
        }
        return (null, longest > LongRunEvents
            ? $"a long run: about {RunEstimate.Format.Count(longest)} events per policy (the reference engine processes one to a few million a second on one core)"
            : null);
    }
}
