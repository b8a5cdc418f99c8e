using Shootdown.Engine;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>
/// The size a run is estimated at before it runs, against what it uses: events processed and the
/// managed heap at the run's peak, on the shipped scenarios and on the inputs that once exhausted
/// memory. Alone in its collection, so that no other test's allocations enter the heap measured.
/// </summary>
[Collection(Name)]
public sealed class RunEstimateTests
{
    public const string Name = "heap measured alone";

    private static Scenario Load(string file, params string[] sets) =>
        ScenarioLoader.Load(Sim.ScenarioPath(file), [.. sets.Select(s => ScenarioOverride.Parse(s))]).Points[0].Scenario;

    [Theory]
    [InlineData("small-64.yaml")]
    [InlineData("khugepaged-4096.yaml")]
    [InlineData("hugetlb-unshare-4096.yaml")]
    [InlineData("epyc-8160.yaml")]
    [InlineData("storm-8192.yaml", "duration_us=1000")]
    [InlineData("small-64.yaml", "processes[0].threads=20000")]
    [InlineData("small-64.yaml", "operations[5].rate_per_s=1000000")]
    public void TheEstimateIsWithinAFactorOfWhatTheRunUses(string file, params string[] sets)
    {
        var scenario = Load(file, sets);
        var estimate = RunEstimate.Of(scenario);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var engine = new ReferenceEngine(scenario.SetupFor(scenario.Policies[0]));
        var peak = GC.GetTotalMemory(false) - before;
        var result = engine.Run(_ => peak = Math.Max(peak, GC.GetTotalMemory(false) - before), TestContext.Current.CancellationToken);
        peak = Math.Max(peak, GC.GetTotalMemory(true) - before);
        GC.KeepAlive(engine);

        var events = estimate.Events / result.EventsProcessed;
        Assert.InRange(events, 1 / 3.0, 3);
        // An estimate that refuses runs must not be short; it may be long by the engine's slack.
        var bytes = estimate.Bytes / Math.Max(peak, 1);
        Assert.InRange(bytes, 0.5, 5);
    }

    [Fact]
    public void AHundredProcessesOfAMillionThreadsAreRefusedByTheFieldThatAsksForThem()
    {
        var yaml = "name: many\nmachine: small-64\nduration_us: 1000\nprocesses:\n" +
                   string.Concat(Enumerable.Range(0, 100).Select(i => $"  - name: p{i}\n    threads: 1000000\n    cpus: 0-15\n"));
        var estimate = RunEstimate.Of(Sim.Parse(yaml));
        var line = estimate.Admit(available: 24L << 30);
        Assert.NotNull(line);
        Assert.Equal("processes[0].threads: 1,000,000 threads of p0 need about 300 MB; about 30.1 GB in all, and this process may use 25.8 GB " +
                     "(lower it, or run on a larger machine)", line);
        Assert.Null(RunEstimate.Of(Sim.Parse(yaml.Replace("1000000", "1000"))).Admit(available: 24L << 30));
    }

    /// <summary>
    /// A sweep's points are not all held at once: 100 points of 65,536 CPUs held 3.7 MB each
    /// (370 MB) when loaded, and validate of a 1,000-point sweep aborted at 4.7 GB. Each point is
    /// still checked when the file is loaded, and parsed again, alike, when asked for.
    /// </summary>
    [Fact]
    public void ALoadedSweepHoldsItsPointsOnlyWhileTheyAreUsed()
    {
        var text = File.ReadAllText(Sim.ScenarioPath("storm-65536.yaml")) + "\nsweep:\n  seed: { from: 1, to: 100, step: 1 }\n";
        GC.Collect();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var file = ScenarioLoader.ParseFile(Sim.ScenarioPath("sweep-storm.yaml"), text);
        var held = GC.GetTotalMemory(forceFullCollection: true) - before;
        Assert.Equal(100, file.Points.Length);
        Assert.True(held < 60_000_000, $"{held / 1e6:F0} MB held by a loaded 100-point sweep of 65,536 CPUs");
        Assert.Equal(100UL, file.Points[99].Scenario.Seed);
        Assert.Equal(65_536, file.Points[42].Scenario.Machine.CpuCount);
        GC.KeepAlive(file);
    }

    [Fact]
    public void BackToBackBroadcastsOnTheLargestMachineAreCountedPerTarget()
    {
        var estimate = RunEstimate.Of(Load("storm-65536.yaml"));
        Assert.Equal("operations[0]", estimate.Largest.Field);
        // 64 initiators, each at least one operation, each reaching its process's 64 CPUs and the other 65,535.
        Assert.True(estimate.Events >= 64 * (64 + 65_535) * RunEstimate.EventsPerTarget, $"{estimate.Events:N0}");
    }
}

[CollectionDefinition(RunEstimateTests.Name, DisableParallelization = true)]
public sealed class HeapMeasuredAlone;
