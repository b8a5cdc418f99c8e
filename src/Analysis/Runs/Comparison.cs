using System.Collections.Immutable;
using Shootdown.Grains;
using Shootdown.Model.Results;
using Shootdown.Scenarios;
using Shootdown.Telemetry.Export;

namespace Shootdown.Analysis.Runs;

public enum EngineKind
{
    /// <summary>Every CPU and mm is a grain, driven by partition grains in conservative windows.</summary>
    Grains,
    /// <summary>The sequential oracle.</summary>
    Reference,
    /// <summary>The grain engine's window protocol on this process's threads, one partition per core, with no messaging.</summary>
    Parallel,
}

/// <summary>The engines' names as the command line and reports spell them: the kinds' own names, in lower case.</summary>
public static class EngineNames
{
    public static readonly string[] All = [.. Enum.GetValues<EngineKind>().Select(Of)];

    public static string Of(EngineKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>An engine by the name <see cref="All"/> lists (the command line accepts no other).</summary>
    public static EngineKind Parse(string name) => Enum.Parse<EngineKind>(name, ignoreCase: true);

    /// <summary>Which engine ran a comparison, and where: "reference", "parallel in 2 partitions", "grains on 1 embedded silo(s)".</summary>
    public static string Describe(Comparison c) => c.Engine switch
    {
        EngineKind.Reference => "reference",
        EngineKind.Parallel => $"parallel in {c.Runs.Max(r => r.Engine?.Partitions ?? 1)} partition(s)",
        _ => c.Silos > 0 ? $"grains on {c.Silos} embedded silo(s)" : "grains on a running cluster",
    };

    /// <summary>Whether the engine runs in this process alone (no silos, no checkpoints).</summary>
    public static bool InProcess(EngineKind kind) => kind != EngineKind.Grains;
}

/// <summary>How far a policy's run has got, for progress displays. <see cref="Point"/> numbers the scenario in a batch (a sweep's point).</summary>
/// <see cref="Event"/>, when set, says something happened that a person should read (a silo lost and the run resumed);
/// <see cref="Coordinator"/> is the silo (ADDR:PORT) whose run grain coordinates the grain engine's run.
public readonly record struct RunProgressInfo(int Point, string Policy, long VirtualTimeNs, long DurationNs, bool Done, string? Event = null,
    string? Coordinator = null);

/// <summary>
/// One policy's result and what it cost to compute; <paramref name="Engine"/> is the grain
/// engine's account (null on the reference engine), <paramref name="Recoveries"/> the lost silos
/// the run survived, one line each, and <paramref name="Placement"/> where its grains ran (on grains).
/// </summary>
public sealed record PolicyRun(PolicyResult Result, TimeSpan Wall, EngineStats? Engine, ImmutableArray<string> Recoveries = default,
    RunPlacement? Placement = null)
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
    // The run id only names this invocation's spans (and files' run_id); the model never reads
    // it, and head sampling hashes the operation, not the id, so no result depends on it.
    public static RunTracing New(double sampleRatio = TelemetryOptions.DefaultSampleRatio) => new(sampleRatio, Guid.NewGuid().ToString("N")[..12]);
}
