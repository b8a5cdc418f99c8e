using System.Collections.Immutable;
using Shootdown.Scenarios;

namespace Shootdown.Analysis.Runs;

/// <summary>
/// One scenario run under several seeds (<c>--seeds N</c>): <see cref="Replicates"/>[i] is the
/// comparison under <see cref="Seeds"/>[i], the first seed being the scenario's own. A plain run
/// is the set of one. Every figure reported from a set carries its n, the number of replicates.
/// </summary>
public sealed record ReplicateSet(Scenario Scenario, ImmutableArray<ulong> Seeds, ImmutableArray<Comparison> Replicates)
{
    /// <summary>A plain run: the set of one.</summary>
    public static ReplicateSet Of(Comparison c) => new(c.Scenario, [c.Scenario.Seed], [c]);

    public int Count => Replicates.Length;

    public Comparison First => Replicates[0];

    /// <summary>The policies' names, in the scenario's order.</summary>
    public IReadOnlyList<string> Policies => [.. First.Runs.Select(r => r.Result.Policy)];

    /// <summary>Every replicate's run of one policy, in seed order.</summary>
    public IReadOnlyList<PolicyRun> RunsOf(int policy) => [.. Replicates.Select(c => c.Runs[policy])];

    /// <summary>The scenarios to run for a file's points, each under every seed: point-major, so point p's replicates are p·N … p·N + N − 1.</summary>
    public static IReadOnlyList<Scenario> Expand(ScenarioFile file, int seeds) =>
        [.. file.Points.SelectMany(p => ReplicateSeeds.Derive(p.Scenario.Seed, seeds).Select(s => p.Scenario with { Seed = s }))];

    /// <summary>Puts <see cref="Expand"/>'s comparisons back together, one set per point.</summary>
    public static ImmutableArray<ReplicateSet> Group(ScenarioFile file, int seeds, IReadOnlyList<Comparison> comparisons) =>
        [.. file.Points.Select((p, i) => new ReplicateSet(p.Scenario, ReplicateSeeds.Derive(p.Scenario.Seed, seeds), [.. comparisons.Skip(i * seeds).Take(seeds)]))];
}
