using System.Collections.Immutable;
using System.Diagnostics;
using Shootdown.Engine;
using Shootdown.Grains;
using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Scenarios;
using Shootdown.Telemetry;

namespace Shootdown.Analysis.Runs;

/// <summary>
/// Runs scenarios in this process: on the reference engine, or on the parallel engine (the
/// window protocol on this process's threads). The grain engine's runner (in the client) starts
/// from the same records and ends its runs through <see cref="Finished"/>.
/// </summary>
public static class InProcessRuns
{
    /// <summary>
    /// Every policy of every scenario, in point and policy order. With <paramref name="farm"/>, the
    /// runs go side by side over this process's cores (a farmed parallel run takes one partition
    /// unless <paramref name="partitions"/> says otherwise: the cores are busy); the runs share
    /// nothing but the (thread-safe) progress and telemetry sinks, so the results are the same.
    /// </summary>
    public static ImmutableArray<Comparison> RunAll(IReadOnlyList<Scenario> scenarios, EngineKind engine, int partitions = 0, bool farm = false,
        IProgress<RunProgressInfo>? progress = null, CancellationToken cancellation = default, RunTracing? tracing = null)
    {
        if (!EngineNames.InProcess(engine)) throw new ArgumentException($"{EngineNames.Of(engine)} does not run in this process", nameof(engine));
        tracing ??= RunTracing.New();
        var jobs = scenarios.SelectMany((s, point) => s.Policies.Select((_, policy) => (Point: point, Policy: policy))).ToList();
        var runs = scenarios.Select(s => new PolicyRun[s.Policies.Length]).ToArray();
        var parts = engine == EngineKind.Reference ? 0 : partitions > 0 ? partitions : farm ? 1 : Environment.ProcessorCount;
        Parallel.ForEach(jobs, new ParallelOptions { MaxDegreeOfParallelism = farm ? Environment.ProcessorCount : 1, CancellationToken = cancellation },
            job =>
            {
                var scenario = scenarios[job.Point];
                runs[job.Point][job.Policy] = Run(scenario, scenario.Policies[job.Policy], parts, job.Point, progress, cancellation, tracing);
            });
        return [.. scenarios.Select((s, point) => new Comparison(s, engine, 0, [.. runs[point]], tracing.RunId))];
    }

    /// <summary>A policy's run on the reference engine.</summary>
    public static PolicyRun Reference(Scenario scenario, KernelPolicy policy) => Run(scenario, policy, partitions: 0);

    /// <summary>
    /// A policy's run in this process: on the reference engine with no <paramref name="partitions"/>,
    /// else on the parallel engine with that many (at most the machine's CPUs).
    /// </summary>
    public static PolicyRun Run(Scenario scenario, KernelPolicy policy, int partitions, int point = 0, IProgress<RunProgressInfo>? progress = null,
        CancellationToken cancellation = default, RunTracing? tracing = null)
    {
        tracing ??= RunTracing.New();
        using var span = EngineSpans.StartPolicy(policy.Name, point);
        // Wall time is what the run cost, reported beside the result; it never enters the model.
        var clock = Stopwatch.StartNew();
        var setup = scenario.SetupFor(policy);
        var spans = new KernelSpans(setup, tracing.SampleRatio, scenario.Name, tracing.RunId);
        Action<long> reached = t => progress?.Report(new RunProgressInfo(point, policy.Name, t, scenario.DurationNs, false));
        var name = partitions > 0 ? "parallel" : "reference";
        PolicyResult result;
        EngineStats? stats = null;
        if (partitions > 0)
        {
            var count = Math.Min(partitions, setup.CpuCount);
            var engine = new ParallelEngine(setup, count, spans);
            result = engine.Run(reached, cancellation);
            stats = new EngineStats(0, count, engine.Windows, 0, 0, 0, SpanEvents: engine.SpanEvents);
        }
        else
        {
            result = new ReferenceEngine(setup, spans).Run(reached, cancellation);
        }
        progress?.Report(new RunProgressInfo(point, policy.Name, result.EndNs, scenario.DurationNs, true));
        EngineMetrics.Progress(name, policy.Name, result.EventsProcessed, clock.Elapsed);
        return Finished(scenario, result, clock.Elapsed, stats, span);
    }

    /// <summary>Every policy's result, whichever engine: its metrics are recorded from it, and its span says what it found.</summary>
    public static PolicyRun Finished(Scenario scenario, PolicyResult result, TimeSpan wall, EngineStats? engine, Activity? span)
    {
        KernelMetrics.Record(scenario.Name, result, scenario.Workload.RealtimeCpus);
        span?.SetTag("shootdown.digest", result.Digest);
        span?.SetTag("shootdown.events", result.EventsProcessed);
        span?.SetTag("shootdown.csds_queued", result.CsdsQueued);
        span?.SetTag("shootdown.ipis_received", result.IpisReceived);
        span?.SetTag("shootdown.virtual_end_ns", result.EndNs);
        return new PolicyRun(result, wall, engine);
    }
}
