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

/// <summary>How far a policy's run has got, for progress displays.</summary>
public readonly record struct RunProgressInfo(string Policy, long VirtualTimeNs, long DurationNs, bool Done);

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
        IProgress<RunProgressInfo>? progress = null, CancellationToken cancellation = default)
    {
        if (engine == EngineKind.Reference)
        {
            var runs = scenario.Policies.Select(p => RunReference(scenario, p, progress, cancellation)).ToImmutableArray();
            return new Comparison(scenario, engine, 0, runs);
        }
        if (grains is not null) return await RunOnGrainsAsync(scenario, grains, 0, progress, cancellation);
        await using var cluster = await EmbeddedCluster.StartAsync(silos, cancellation);
        return await RunOnGrainsAsync(scenario, cluster.GrainFactory, silos, progress, cancellation);
    }

    public static PolicyRun RunReference(Scenario scenario, KernelPolicy policy, IProgress<RunProgressInfo>? progress = null, CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        var engine = new ReferenceEngine(scenario.SetupFor(policy));
        var result = engine.Run(t => progress?.Report(new RunProgressInfo(policy.Name, t, scenario.DurationNs, false)), cancellation);
        progress?.Report(new RunProgressInfo(policy.Name, result.EndNs, scenario.DurationNs, true));
        return new PolicyRun(result, clock.Elapsed, 0, 0);
    }

    public static async Task<Comparison> RunOnGrainsAsync(Scenario scenario, IGrainFactory grains, int silos,
        IProgress<RunProgressInfo>? progress = null, CancellationToken cancellation = default)
    {
        var runs = ImmutableArray.CreateBuilder<PolicyRun>();
        foreach (var policy in scenario.Policies)
            runs.Add(await RunPolicyOnGrainsAsync(scenario, policy, grains, progress, cancellation));
        return new Comparison(scenario, EngineKind.Grains, silos, runs.ToImmutable());
    }

    public static async Task<PolicyRun> RunPolicyOnGrainsAsync(Scenario scenario, KernelPolicy policy, IGrainFactory grains,
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
            progress?.Report(new RunProgressInfo(policy.Name, step.VirtualTimeNs, scenario.DurationNs, false));
        } while (!step.Done);
        var report = await run.Collect();
        var result = new PolicyResult(report.Policy, report.EndNs, report.EventsProcessed,
            report.Cpus.Select(c => c.Counters).ToImmutableArray(),
            report.Cpus.SelectMany(c => c.Ops).ToImmutableArray(),
            scenario.Workload.RealtimeCpus.Order().ToImmutableArray());
        progress?.Report(new RunProgressInfo(policy.Name, result.EndNs, scenario.DurationNs, true));
        return new PolicyRun(result, clock.Elapsed, step.Windows, step.GrainCalls);
    }
}
