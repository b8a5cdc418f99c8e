using System.Collections.Immutable;
using System.Diagnostics;
using Shootdown.Engine;
using Shootdown.Grains;
using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Model.Safety;
using Shootdown.Model.Simulation;
using Shootdown.Scenarios;
using Shootdown.Telemetry;
using Shootdown.Telemetry.Export;

namespace Shootdown.Client.Running;

public enum EngineKind
{
    /// <summary>Every CPU and mm is a grain, driven by partition grains in conservative windows.</summary>
    Grains,
    /// <summary>The sequential oracle.</summary>
    Reference,
}

/// <summary>How far a policy's run has got, for progress displays. <see cref="Point"/> numbers the scenario in a batch (a sweep's point).</summary>
public readonly record struct RunProgressInfo(int Point, string Policy, long VirtualTimeNs, long DurationNs, bool Done);

/// <summary>One policy's result and what it cost to compute; <paramref name="Engine"/> is the grain engine's account (null on the reference engine).</summary>
public sealed record PolicyRun(PolicyResult Result, TimeSpan Wall, EngineStats? Engine)
{
    /// <summary>Simulated IPIs delivered: csds handled by their targets.</summary>
    public long Ipis => Result.Cpus.Sum(c => c.CsdsHandled);
}

/// <summary>
/// The scenario run under each of its policies, in the order the scenario lists them.
/// <see cref="RunId"/> names this invocation on its spans (<c>shootdown.run_id</c>).
/// </summary>
public sealed record Comparison(Scenario Scenario, EngineKind Engine, int Silos, ImmutableArray<PolicyRun> Runs, string RunId);

/// <summary>
/// How a run is traced: the head-sampling ratio, and the id its spans carry. Nothing is traced
/// unless a telemetry pipeline listens.
/// </summary>
public sealed record RunTracing(double SampleRatio, string RunId)
{
    public static RunTracing New(double sampleRatio = TelemetryOptions.DefaultSampleRatio) => new(sampleRatio, Guid.NewGuid().ToString("N")[..12]);
}

/// <summary>
/// Runs scenarios: on the reference engine in this thread, or on entity grains through any
/// <see cref="IGrainFactory"/> (an embedded cluster, or a client connected to a running one).
/// </summary>
public static class ShootdownRunner
{
    /// <summary>
    /// Runs every policy of the scenario; with the grain engine and no factory, on an embedded
    /// cluster of <paramref name="silos"/>, in <paramref name="partitions"/> partitions (0: one per core of each silo).
    /// </summary>
    public static async Task<Comparison> RunAsync(Scenario scenario, EngineKind engine, int silos = 1, IGrainFactory? grains = null,
        IProgress<RunProgressInfo>? progress = null, CancellationToken cancellation = default, RunTracing? tracing = null, int partitions = 0) =>
        (await RunAllAsync([scenario], engine, silos, grains, progress, cancellation, tracing, partitions))[0];

    /// <summary>
    /// Runs several scenarios (a sweep's points) one after another, on one embedded cluster when
    /// one is needed. With a telemetry pipeline listening, the run is one engine trace and
    /// operations are traced at <paramref name="traceSampleRatio"/>; without one, nothing is.
    /// </summary>
    public static async Task<ImmutableArray<Comparison>> RunAllAsync(IReadOnlyList<Scenario> scenarios, EngineKind engine, int silos = 1,
        IGrainFactory? grains = null, IProgress<RunProgressInfo>? progress = null, CancellationToken cancellation = default,
        RunTracing? tracing = null, int partitions = 0)
    {
        tracing ??= RunTracing.New();
        using var run = EngineSpans.StartRun(scenarios.Count == 0 ? "" : scenarios[0].Name, tracing.RunId, engine == EngineKind.Reference ? "reference" : "grains", scenarios.Count);
        if (engine == EngineKind.Reference)
        {
            return scenarios.Select((s, point) => new Comparison(s, engine, 0,
                s.Policies.Select(p => RunReference(s, p, point, progress, cancellation, tracing)).ToImmutableArray(), tracing.RunId)).ToImmutableArray();
        }
        await using var cluster = grains is null ? await EmbeddedCluster.StartAsync(silos, cancellation) : null;
        var factory = grains ?? cluster!.GrainFactory;
        var results = ImmutableArray.CreateBuilder<Comparison>(scenarios.Count);
        for (var point = 0; point < scenarios.Count; point++)
        {
            var runs = ImmutableArray.CreateBuilder<PolicyRun>();
            foreach (var policy in scenarios[point].Policies)
                runs.Add(await RunPolicyOnGrainsAsync(scenarios[point], policy, factory, point, progress, cancellation, tracing, partitions));
            results.Add(new Comparison(scenarios[point], EngineKind.Grains, cluster is null ? 0 : silos, runs.ToImmutable(), tracing.RunId));
        }
        return results.MoveToImmutable();
    }

    public static PolicyRun RunReference(Scenario scenario, KernelPolicy policy, int point = 0, IProgress<RunProgressInfo>? progress = null,
        CancellationToken cancellation = default, RunTracing? tracing = null)
    {
        tracing ??= RunTracing.New();
        using var span = EngineSpans.StartPolicy(policy.Name, point);
        var clock = Stopwatch.StartNew();
        var setup = scenario.SetupFor(policy);
        var engine = new ReferenceEngine(setup, new KernelSpans(setup, tracing.SampleRatio, scenario.Name, tracing.RunId));
        var result = engine.Run(t => progress?.Report(new RunProgressInfo(point, policy.Name, t, scenario.DurationNs, false)), cancellation);
        progress?.Report(new RunProgressInfo(point, policy.Name, result.EndNs, scenario.DurationNs, true));
        EngineMetrics.Progress("reference", policy.Name, result.EventsProcessed, clock.Elapsed);
        return Finished(scenario, result, clock.Elapsed, null, span);
    }

    /// <summary>Every policy's result, whichever engine: its metrics are recorded from it, and its span says what it found.</summary>
    private static PolicyRun Finished(Scenario scenario, PolicyResult result, TimeSpan wall, EngineStats? engine, Activity? span)
    {
        KernelMetrics.Record(scenario.Name, result, scenario.Workload.RealtimeCpus);
        span?.SetTag("shootdown.digest", result.Digest);
        span?.SetTag("shootdown.events", result.EventsProcessed);
        span?.SetTag("shootdown.ipis", result.TotalIpis);
        span?.SetTag("shootdown.virtual_end_ns", result.EndNs);
        return new PolicyRun(result, wall, engine);
    }

    public static async Task<PolicyRun> RunPolicyOnGrainsAsync(Scenario scenario, KernelPolicy policy, IGrainFactory grains, int point = 0,
        IProgress<RunProgressInfo>? progress = null, CancellationToken cancellation = default, RunTracing? tracing = null, int partitions = 0)
    {
        tracing ??= RunTracing.New();
        using var span = EngineSpans.StartPolicy(policy.Name, point);
        var clock = Stopwatch.StartNew();
        // The run key names the grains; it never enters the model, so it cannot change a result.
        var spec = new RunSpec($"{Guid.NewGuid():N}/{policy.Name}", scenario.Definition.ToJson(), SimulationDefinition.PolicyToJson(policy), policy.Name,
            tracing.SampleRatio, tracing.RunId, scenario.Name, partitions);
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
            scenario.Workload.RealtimeCpus.Order().ToImmutableArray(),
            SafetyJson.ReadReport(report.SafetyJson));
        progress?.Report(new RunProgressInfo(point, policy.Name, result.EndNs, scenario.DurationNs, true));
        return Finished(scenario, result, clock.Elapsed, report.Stats, span);
    }
}
