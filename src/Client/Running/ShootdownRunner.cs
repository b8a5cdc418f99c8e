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
/// <see cref="Event"/>, when set, says something happened that a person should read (a silo lost and the run resumed);
/// <see cref="Coordinator"/> is the silo (ADDR:PORT) whose run grain coordinates the grain engine's run.
public readonly record struct RunProgressInfo(int Point, string Policy, long VirtualTimeNs, long DurationNs, bool Done, string? Event = null,
    string? Coordinator = null);

/// <summary>
/// One policy's result and what it cost to compute; <paramref name="Engine"/> is the grain
/// engine's account (null on the reference engine), <paramref name="Recoveries"/> the lost silos
/// the run survived, one line each.
/// </summary>
public sealed record PolicyRun(PolicyResult Result, TimeSpan Wall, EngineStats? Engine, ImmutableArray<string> Recoveries = default)
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

    /// <summary>How many silos a policy's run may lose, one after another, before it gives up.</summary>
    public const int MaxRecoveries = 4;

    /// <summary>How long to wait, after a call on the run failed, for membership to name a lost silo.</summary>
    private static readonly TimeSpan LossPatience = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Runs a policy on grains. When membership declares a silo dead mid-run (the coordinator's
    /// included), the broken run's grains are dropped and the run starts again on the surviving
    /// silos; the result is a pure function of (scenario, seed), so it is the same. Any other
    /// failure is the run's own and is thrown.
    /// </summary>
    public static async Task<PolicyRun> RunPolicyOnGrainsAsync(Scenario scenario, KernelPolicy policy, IGrainFactory grains, int point = 0,
        IProgress<RunProgressInfo>? progress = null, CancellationToken cancellation = default, RunTracing? tracing = null, int partitions = 0)
    {
        tracing ??= RunTracing.New();
        using var span = EngineSpans.StartPolicy(policy.Name, point);
        var clock = Stopwatch.StartNew();
        var recoveries = ImmutableArray.CreateBuilder<string>();
        while (true)
        {
            // The run key names the grains; it never enters the model, so it cannot change a result.
            var spec = new RunSpec($"{Guid.NewGuid():N}/{policy.Name}", scenario.Definition.ToJson(), SimulationDefinition.PolicyToJson(policy), policy.Name,
                tracing.SampleRatio, tracing.RunId, scenario.Name, partitions);
            await using var watch = await ClusterWatch.StartAsync(grains, cancellation);
            var reached = new RunProgress(0, false, new EngineStats(0, 0, 0, 0, 0, 0));
            string? coordinator = null;
            try
            {
                var report = await RunOnceAsync(spec, grains, watch.Lost, (silo, p) =>
                {
                    (coordinator, reached) = (silo, p);
                    progress?.Report(new RunProgressInfo(point, policy.Name, p.VirtualTimeNs, scenario.DurationNs, false, Coordinator: silo));
                }, cancellation);
                var result = new PolicyResult(report.Policy, report.EndNs, report.EventsProcessed,
                    report.Cpus.Select(c => c.Counters).ToImmutableArray(),
                    report.Cpus.SelectMany(c => c.Ops).ToImmutableArray(),
                    scenario.Workload.RealtimeCpus.Order().ToImmutableArray(),
                    SafetyJson.ReadReport(report.SafetyJson));
                progress?.Report(new RunProgressInfo(point, policy.Name, result.EndNs, scenario.DurationNs, true));
                return Finished(scenario, result, clock.Elapsed, report.Stats, span) with { Recoveries = recoveries.ToImmutable() };
            }
            catch (Exception failure) when (!cancellation.IsCancellationRequested && recoveries.Count < MaxRecoveries)
            {
                if (await watch.LossBehindAsync(LossPatience) is not { } lost) throw;
                await AbandonAsync(grains, spec, reached.Stats.Partitions);
                var role = lost.Endpoint.ToString() == coordinator ? "the coordinator's silo " : "silo ";
                var line = $"{policy.Name}: {role}{lost.Endpoint} lost at window {reached.Stats.Windows:N0} " +
                           $"(virtual {reached.VirtualTimeNs / 1000.0:N0} µs; {failure.GetType().Name}); restarted from virtual time 0 on {watch.Survivors} surviving silos";
                recoveries.Add(line);
                progress?.Report(new RunProgressInfo(point, policy.Name, 0, scenario.DurationNs, false, line));
            }
        }
    }

    /// <summary>One try at a policy's run; every call also gives up when <paramref name="lost"/> says a silo died.</summary>
    private static async Task<RunReport> RunOnceAsync(RunSpec spec, IGrainFactory grains, CancellationToken lost,
        Action<string, RunProgress> advanced, CancellationToken cancellation)
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(lost, cancellation);
        var run = grains.GetGrain<IRunGrain>(spec.RunKey);
        var coordinator = await run.Begin(spec).WaitAsync(either.Token);
        RunProgress step;
        do
        {
            cancellation.ThrowIfCancellationRequested();
            step = await run.Advance(250).WaitAsync(either.Token);
            advanced(coordinator, step);
        } while (!step.Done);
        return await run.Collect().WaitAsync(either.Token);
    }

    /// <summary>
    /// Drops what a broken run left on the surviving silos, best effort and briefly: its
    /// partitions end their entities, and the coordinator forgets the run. A grain whose silo died
    /// is re-activated empty by the call and just deactivates.
    /// </summary>
    private static async Task AbandonAsync(IGrainFactory grains, RunSpec spec, int partitions)
    {
        var calls = Enumerable.Range(0, partitions)
            .Select(p => grains.GetGrain<IPartitionGrain>(p, PartitionKeys.Extension(spec.RunKey, p)).Abandon())
            .Append(grains.GetGrain<IRunGrain>(spec.RunKey).Abandon());
        try
        {
            await Task.WhenAll(calls).WaitAsync(AbandonTimeout);
        }
        catch (Exception)
        {
            // What cannot be ended now is collected when idle; the next try uses new grains.
        }
    }

    private static readonly TimeSpan AbandonTimeout = TimeSpan.FromSeconds(10);
}
