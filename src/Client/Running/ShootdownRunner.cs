using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using Shootdown.Analysis.Runs;
using Shootdown.Engine;
using Shootdown.Grains;
using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Model.Safety;
using Shootdown.Model.Simulation;
using Shootdown.Scenarios;
using Shootdown.Telemetry.Export;
using Shootdown.Telemetry;

namespace Shootdown.Client.Running;

/// <summary>
/// How the engines run: <see cref="Partitions"/> partitions per grain-engine run (0: one per core
/// of each silo it spans); with <see cref="Farm"/>, independent runs (a sweep's points, the
/// policies, replicates) side by side, one per core: on the reference engine over this process's
/// cores, on grains over every silo's cores, each run kept on its silo with one partition unless
/// <see cref="Partitions"/> says otherwise; and with <see cref="Checkpoints"/>, global checkpoints
/// that a grain-engine run resumes from when it loses a silo (without, it starts again from virtual time 0).
/// </summary>
public sealed record GrainEngineOptions(int Partitions = 0, bool Farm = false, CheckpointPolicy? Checkpoints = null)
{
    public static readonly GrainEngineOptions Default = new();
}

/// <summary>
/// Runs scenarios: on the reference engine in this thread, or on entity grains through any
/// <see cref="IGrainFactory"/> (an embedded cluster, or a client connected to a running one).
/// </summary>
public static class ShootdownRunner
{
    /// <summary>
    /// Runs every policy of the scenario; with the grain engine and no factory, on an embedded
    /// cluster of <paramref name="silos"/>, shaped by <paramref name="options"/>.
    /// </summary>
    public static async Task<Comparison> RunAsync(Scenario scenario, EngineKind engine, int silos = 1, IGrainFactory? grains = null,
        IProgress<RunProgressInfo>? progress = null, CancellationToken cancellation = default, RunTracing? tracing = null, GrainEngineOptions? options = null) =>
        (await RunAllAsync([scenario], engine, silos, grains, progress, cancellation, tracing, options))[0];

    /// <summary>
    /// Runs several scenarios (a sweep's points), on one embedded cluster when one is needed. With
    /// a telemetry pipeline listening, the run is one engine trace and operations are traced at
    /// the tracing's sample ratio; without one, nothing is. The points' policies run one after
    /// another (on grains each spread over every silo); with <see cref="GrainEngineOptions.Farm"/>,
    /// side by side, one per core. Either way the results come back in point and policy order,
    /// and are the same.
    /// </summary>
    public static async Task<ImmutableArray<Comparison>> RunAllAsync(IReadOnlyList<Scenario> scenarios, EngineKind engine, int silos = 1,
        IGrainFactory? grains = null, IProgress<RunProgressInfo>? progress = null, CancellationToken cancellation = default,
        RunTracing? tracing = null, GrainEngineOptions? options = null)
    {
        options ??= GrainEngineOptions.Default;
        tracing ??= RunTracing.New();
        using var run = EngineSpans.StartRun(scenarios.Count == 0 ? "" : scenarios[0].Name, tracing.RunId, EngineNames.Of(engine), scenarios.Count);
        var jobs = scenarios.SelectMany((s, point) => s.Policies.Select((_, policy) => (Point: point, Policy: policy))).ToList();
        var runs = scenarios.Select(s => new PolicyRun[s.Policies.Length]).ToArray();
        if (EngineNames.InProcess(engine))
            // Off the caller's thread, as the grain runs are: a progress display keeps drawing.
            return await Task.Run(() => InProcessRuns.RunAll(scenarios, engine, options.Partitions, options.Farm, progress, cancellation, tracing), cancellation);
        await using var cluster = grains is null ? await EmbeddedCluster.StartAsync(silos, cancellation) : null;
        var factory = grains ?? cluster!.GrainFactory;
        async Task RunJob((int Point, int Policy) job, int home, GrainEngineOptions shape) =>
            runs[job.Point][job.Policy] = await RunPolicyOnGrainsAsync(scenarios[job.Point], scenarios[job.Point].Policies[job.Policy], factory,
                job.Point, progress, cancellation, tracing, shape, home);
        if (!options.Farm)
        {
            foreach (var job in jobs) await RunJob(job, home: -1, options);
        }
        else
        {
            // One worker per core of each silo, each keeping its runs on its own silo (its home)
            // and taking the next run when it finishes one: the runs are independent, so only the
            // pace changes. A farmed run drives its entities with one partition: its core is busy.
            var hosts = (await ClusterWatch.ActiveSilosAsync(factory, cancellation)).Count;
            var cores = await Task.WhenAll(Enumerable.Range(0, hosts)
                .Select(home => factory.GetGrain<ISiloCoresGrain>(0, PartitionKeys.OnSilo("cores", home)).ProcessorCount()));
            var shape = options with { Partitions = options.Partitions > 0 ? options.Partitions : 1 };
            var queue = new ConcurrentQueue<(int Point, int Policy)>(jobs);
            await Task.WhenAll(Enumerable.Range(0, hosts).SelectMany(home => Enumerable.Repeat(home, cores[home])).Select(async home =>
            {
                while (queue.TryDequeue(out var job)) await RunJob(job, home, shape);
            }));
        }
        return [.. scenarios.Select((s, point) => new Comparison(s, EngineKind.Grains, cluster is null ? 0 : silos, [.. runs[point]], tracing.RunId))];
    }

    /// <summary>How many silos a policy's run may lose, one after another, before it gives up.</summary>
    public const int MaxRecoveries = 4;

    /// <summary>How long to wait, after a call on the run failed, for membership to name a lost silo.</summary>
    private static readonly TimeSpan LossPatience = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Runs a policy on grains (from <paramref name="resumeFrom"/>, a checkpoint of an earlier run
    /// of it, when given). When membership declares a silo dead mid-run (the coordinator's
    /// included), the broken run's grains are dropped and the run resumes on the surviving silos
    /// from the latest checkpoint it reported (from virtual time 0 without one); the result is a
    /// pure function of (scenario, seed), so it is the same. A checkpoint whose part is refused on
    /// restore (changed, cut short, another build's or cluster's) is not resumed from: the policy
    /// resumes from the checkpoint before it (the broken run kept two; <paramref name="fallback"/>
    /// when resuming by hand), else starts again from virtual time 0, and says so. Any other
    /// failure is the run's own and is thrown.
    /// </summary>
    public static async Task<PolicyRun> RunPolicyOnGrainsAsync(Scenario scenario, KernelPolicy policy, IGrainFactory grains, int point = 0,
        IProgress<RunProgressInfo>? progress = null, CancellationToken cancellation = default, RunTracing? tracing = null, GrainEngineOptions? options = null,
        int home = -1, CheckpointRef? resumeFrom = null, CheckpointRef? fallback = null)
    {
        tracing ??= RunTracing.New();
        using var span = EngineSpans.StartPolicy(policy.Name, point);
        var clock = Stopwatch.StartNew();
        options ??= GrainEngineOptions.Default;
        var recoveries = ImmutableArray.CreateBuilder<string>();
        while (true)
        {
            // The run key names the grains; it never enters the model, so it cannot change a result.
            var spec = new RunSpec($"{Guid.NewGuid():N}/{policy.Name}", scenario.Definition.ToJson(), SimulationDefinition.PolicyToJson(policy), policy.Name,
                tracing.SampleRatio, tracing.RunId, scenario.Name, options.Partitions, home, options.Checkpoints, resumeFrom, fallback);
            await using var watch = await ClusterWatch.StartAsync(grains, cancellation);
            var reached = new RunProgress(0, false, new EngineStats(0, 0, 0, 0, 0, 0));
            // The two checkpoints the run keeps, as it reports them: where to resume, and where if that one is refused.
            var (latest, previous) = (resumeFrom, fallback);
            RunPlacement? placement = null;
            try
            {
                var report = await RunOnceAsync(spec, grains, watch.Lost, (where, p) =>
                {
                    (placement, reached) = (where, p);
                    if (p.Checkpoint is { } taken && taken != latest) (previous, latest) = (latest, taken);
                    progress?.Report(new RunProgressInfo(point, policy.Name, p.VirtualTimeNs, scenario.DurationNs, false, Coordinator: where.Coordinator));
                }, cancellation);
                var result = ResultOf(scenario, report);
                progress?.Report(new RunProgressInfo(point, policy.Name, result.EndNs, scenario.DurationNs, true));
                return InProcessRuns.Finished(scenario, result, clock.Elapsed, report.Stats, span) with { Recoveries = recoveries.ToImmutable(), Placement = placement };
            }
            catch (CheckpointRefusedFault refused) when (resumeFrom is not null && recoveries.Count < MaxRecoveries)
            {
                // A part that fails its check is never restored: the checkpoint before it, whose
                // parts are checked in turn, or virtual time 0, which is always sound.
                await AbandonAsync(grains, spec, resumeFrom.Partitions);
                (resumeFrom, fallback) = (fallback, null);
                var line = $"{policy.Name}: {refused.Message}; " + (resumeFrom is { } c
                    ? $"resumed from the checkpoint before it, {c.Number} at window {c.Windows:N0}, virtual {c.VirtualTimeNs / 1000.0:N0} µs"
                    : "restarted from virtual time 0");
                recoveries.Add(line);
                progress?.Report(new RunProgressInfo(point, policy.Name, 0, scenario.DurationNs, false, line));
            }
            catch (Exception failure) when (!cancellation.IsCancellationRequested && recoveries.Count < MaxRecoveries)
            {
                // No silo left to resume on: the cluster fault, in the words ClusterFaults gives it.
                if (watch.Unreachable)
                    throw new TimeoutException($"no silo of the cluster answered for {ClusterWatch.UnreachableAfter.TotalSeconds:0} s", failure);
                var lost = await watch.LossBehindAsync(LossPatience);
                // A message the cluster could not deliver, with no silo declared dead since the start,
                // went to a silo that was dead before the run began; anything else is the run's own.
                if (lost is null && failure is not OrleansMessageRejectionException) throw;
                await AbandonAsync(grains, spec, reached.Stats.Partitions);
                // The latest checkpoint the run reported is complete and still kept, and so is the one before (the run keeps two).
                (resumeFrom, fallback) = (latest, previous);
                var resumed = resumeFrom is { } c
                    ? $"resumed from checkpoint {c.Number} at window {c.Windows:N0}, virtual {c.VirtualTimeNs / 1000.0:N0} µs,"
                    : "restarted from virtual time 0";
                // How the run learnt of it: membership declared the silo dead first, or a call to it failed.
                var how = failure is OperationCanceledException ? "declared dead" : $"a call to it failed: {failure.GetType().Name}";
                var what = lost is null
                    ? $"a silo that had already left was called at window {reached.Stats.Windows:N0} ({failure.GetType().Name})"
                    : $"{(lost.Endpoint.ToString() == placement?.Coordinator ? "the coordinator's silo" : "silo")} {lost.Endpoint} lost at window " +
                      $"{reached.Stats.Windows:N0} (virtual {reached.VirtualTimeNs / 1000.0:N0} µs; {how})";
                var line = $"{policy.Name}: {what}; {resumed} on {watch.Survivors} surviving silos";
                recoveries.Add(line);
                progress?.Report(new RunProgressInfo(point, policy.Name, 0, scenario.DurationNs, false, line));
            }
        }
    }

    /// <summary>A policy's result from its coordinator's report.</summary>
    public static PolicyResult ResultOf(Scenario scenario, RunReport report) => PolicyResult.Collect(report.Policy, report.EndNs, report.EventsProcessed,
        report.Cpus.Select(c => (c.Counters, (IEnumerable<OpRecord>)c.Ops)), scenario.Workload.RealtimeCpus, report.Safety);

    /// <summary>One try at a policy's run; every call also gives up when <paramref name="lost"/> says a silo died.</summary>
    private static async Task<RunReport> RunOnceAsync(RunSpec spec, IGrainFactory grains, CancellationToken lost,
        Action<RunPlacement, RunProgress> advanced, CancellationToken cancellation)
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(lost, cancellation);
        var run = grains.GetGrain<IRunGrain>(spec.RunKey);
        var placement = await run.Begin(spec).WaitAsync(either.Token);
        RunProgress step;
        do
        {
            cancellation.ThrowIfCancellationRequested();
            step = await run.Advance(250).WaitAsync(either.Token);
            advanced(placement, step);
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
            .Select(p => grains.GetGrain<IPartitionGrain>(p, PartitionKeys.Extension(spec, p)).Abandon())
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
