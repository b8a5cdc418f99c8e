using System.Collections.Immutable;
using System.Diagnostics;
using Shootdown.Engine;
using Shootdown.Grains;
using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Model.Simulation;
using Shootdown.Scenarios;

namespace Shootdown.Client.Running;

public enum EngineKind
{
    /// <summary>Every CPU and mm is a grain; windows of one lookahead.</summary>
    Grains,
    /// <summary>The sequential oracle.</summary>
    Reference,
}

/// <summary>How far a policy's run has got, for progress displays. <see cref="Point"/> numbers the scenario in a batch (a sweep's point).</summary>
public readonly record struct RunProgressInfo(int Point, string Policy, long VirtualTimeNs, long DurationNs, bool Done);

/// <summary>One policy's result and what it cost to compute.</summary>
public sealed record PolicyRun(PolicyResult Result, TimeSpan Wall, long Windows, long GrainCalls);

/// <summary>The scenario run under each of its policies, in the order the scenario lists them.</summary>
public sealed record Comparison(Scenario Scenario, EngineKind Engine, int Silos, ImmutableArray<PolicyRun> Runs);

/// <summary>
/// Runs scenarios: on the reference engine in this thread, or on entity grains through any
/// <see cref="IGrainFactory"/> (an embedded cluster, or a client connected to a running one).
/// </summary>
public static class ShootdownRunner
{
    /// <summary>Runs every policy of the scenario; with the grain engine and no factory, on an embedded cluster of <paramref name="silos"/>.</summary>
    public static async Task<Comparison> RunAsync(Scenario scenario, EngineKind engine, int silos = 1, IGrainFactory? grains = null,
        IProgress<RunProgressInfo>? progress = null, CancellationToken cancellation = default) =>
        (await RunAllAsync([scenario], engine, silos, grains, progress, cancellation))[0];

    /// <summary>Runs several scenarios (a sweep's points) one after another, on one embedded cluster when one is needed.</summary>
    public static async Task<ImmutableArray<Comparison>> RunAllAsync(IReadOnlyList<Scenario> scenarios, EngineKind engine, int silos = 1,
        IGrainFactory? grains = null, IProgress<RunProgressInfo>? progress = null, CancellationToken cancellation = default)
    {
        if (engine == EngineKind.Reference)
        {
            return scenarios.Select((s, point) => new Comparison(s, engine, 0,
                s.Policies.Select(p => RunReference(s, p, point, progress, cancellation)).ToImmutableArray())).ToImmutableArray();
        }
        await using var cluster = grains is null ? await EmbeddedCluster.StartAsync(silos, cancellation) : null;
        var factory = grains ?? cluster!.GrainFactory;
        var results = ImmutableArray.CreateBuilder<Comparison>(scenarios.Count);
        for (var point = 0; point < scenarios.Count; point++)
        {
            var runs = ImmutableArray.CreateBuilder<PolicyRun>();
            foreach (var policy in scenarios[point].Policies)
                runs.Add(await RunPolicyOnGrainsAsync(scenarios[point], policy, factory, point, progress, cancellation));
            results.Add(new Comparison(scenarios[point], EngineKind.Grains, cluster is null ? 0 : silos, runs.ToImmutable()));
        }
        return results.MoveToImmutable();
    }

    public static PolicyRun RunReference(Scenario scenario, KernelPolicy policy, int point = 0, IProgress<RunProgressInfo>? progress = null, CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        var engine = new ReferenceEngine(scenario.SetupFor(policy));
        var result = engine.Run(t => progress?.Report(new RunProgressInfo(point, policy.Name, t, scenario.DurationNs, false)), cancellation);
        progress?.Report(new RunProgressInfo(point, policy.Name, result.EndNs, scenario.DurationNs, true));
        return new PolicyRun(result, clock.Elapsed, 0, 0);
    }

    public static async Task<PolicyRun> RunPolicyOnGrainsAsync(Scenario scenario, KernelPolicy policy, IGrainFactory grains, int point = 0,
        IProgress<RunProgressInfo>? progress = null, CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        // The run key names the grains; it never enters the model, so it cannot change a result.
        var spec = new RunSpec($"{Guid.NewGuid():N}/{policy.Name}", scenario.Definition.ToJson(), SimulationDefinition.PolicyToJson(policy), policy.Name);
        var run = grains.GetGrain<IRunGrain>(spec.RunKey);
        await run.Begin(spec);
        RunProgress step;
        do
        {
            cancellation.ThrowIfCancellationRequested();
            step = await run.Advance(250);
            progress?.Report(new RunProgressInfo(point, policy.Name, step.VirtualTimeNs, scenario.DurationNs, false));
        } while (!step.Done);
        var report = await run.Collect();
        var result = new PolicyResult(report.Policy, report.EndNs, report.EventsProcessed,
            report.Cpus.Select(c => c.Counters).ToImmutableArray(),
            report.Cpus.SelectMany(c => c.Ops).ToImmutableArray(),
            scenario.Workload.RealtimeCpus.Order().ToImmutableArray());
        progress?.Report(new RunProgressInfo(point, policy.Name, result.EndNs, scenario.DurationNs, true));
        return new PolicyRun(result, clock.Elapsed, step.Windows, step.GrainCalls);
    }
}
