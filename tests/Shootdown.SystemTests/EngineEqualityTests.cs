using Shootdown.Analysis.Runs;
using Shootdown.Client.Running;
using Shootdown.Engine;
using Shootdown.Grains;
using Shootdown.Model.Kernel;
using Shootdown.Model.Simulation;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>The grain engine must reproduce the reference engine's digest, whatever the number of silos and partitions.</summary>
[Collection(ClusterCollection.Name)]
public sealed class EngineEqualityTests(ClusterFixture clusters)
{
    /// <summary>
    /// Scenarios that exercise different paths, and so every kind of event's earliest-output
    /// bound: the shipped smoke test, a storm with coalescing, migration and timeslicing, hugetlb
    /// unshares, the safety scenarios' walkers (IRQ-off, PAE and RCU), INVLPGB, KVM steal time,
    /// a sync with no flush before it and munmap's IPI fallback (the digest covers the safety
    /// report), a replayed trace (explicit flush targets), and the calibration scenarios'
    /// multi-table unshares (start_us, count) and flush-local-before-remote kernel. Each child of the
    /// fork/exit scenario unshares 24 of its 96 tables here: the same paths (16 exits of
    /// back-to-back unshares, each syncing 196 CPUs) in a quarter of the events, which keeps the
    /// slow layer two minutes shorter.
    /// </summary>
    public static TheoryData<string> Scenarios => new()
    {
        "small-64.yaml",
        "safety/native-x86.yaml",
        "safety/invlpgb.yaml",
        "safety/kvm-pv.yaml",
        "safety/sync-without-flush.yaml",
        "safety/pae-kswapd-stalled.yaml",
        "safety/rcu-walkers.yaml",
        "safety/rcu-walkers-ipi-fallback.yaml",
        "inline:storm",
        "inline:migration",
        "inline:hugetlb",
        "replay:hand-8cpu.txt",
        ForkExitQuarter,
        "calibration/local-flush-pages.yaml",
    };

    /// <summary>Silos, and partitions (0: the default, one per core of each silo).</summary>
    private static readonly (int Silos, int Partitions)[] Layouts = [(1, 0), (1, 1), (2, 3), (3, 0), (3, 7)];

    private const string ForkExitQuarter = "calibration/fork-exit-196.yaml, 24 unshares a child";

    private static Scenario Load(string name) => name switch
    {
        ForkExitQuarter => Sim.Parse(Replaced(File.ReadAllText(Sim.ScenarioPath("calibration/fork-exit-196.yaml")), "count: 96", "count: 24")),
        "inline:storm" => Sim.Parse(Sim.StormWorkload),
        "inline:migration" => Sim.Parse(Sim.MigrationWorkload),
        "inline:hugetlb" => Sim.Parse(Sim.HugetlbSharersWorkload),
        _ when name.StartsWith("replay:", StringComparison.Ordinal) => Analysis.KernelTrace.FtraceReplay.ToScenario(
            Analysis.KernelTrace.FtraceReplay.Read(Path.Combine(AppContext.BaseDirectory, "traces", name["replay:".Length..])), null, ["baseline", "patched"]),
        _ => ScenarioLoader.LoadFile(Sim.ScenarioPath(name)),
    };

    private static string Replaced(string text, string from, string to) =>
        text.Contains(from, StringComparison.Ordinal) ? text.Replace(from, to, StringComparison.Ordinal) : throw new InvalidOperationException($"'{from}' is not in the scenario");

    /// <summary>
    /// A run checkpointed every few windows on three silos is dropped after its second checkpoint
    /// and resumed from it, under new grains, on two silos: the result is the reference's. So a
    /// checkpoint holds everything a window barrier leaves (every entity's state and the events
    /// waiting in partitions), and restores it on a silo that built its own setup.
    /// </summary>
    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task ARunResumedFromACheckpointOnOtherSilosMatchesTheReferenceDigest(string name)
    {
        var scenario = Load(name);
        var reference = await ShootdownRunner.RunAsync(scenario, EngineKind.Reference, cancellation: TestContext.Current.CancellationToken);
        var partitions = Math.Min(3, scenario.Machine.CpuCount);
        foreach (var (policy, expected) in scenario.Policies.Zip(reference.Runs.Select(r => r.Result.Digest)))
        {
            var first = new RunSpec($"{Guid.NewGuid():N}/{policy.Name}", scenario.Definition.ToJson(), SimulationDefinition.PolicyToJson(policy), policy.Name,
                0, "test", scenario.Name, partitions, Checkpoints: new CheckpointPolicy(Windows: 3, WallMs: 0));
            var broken = clusters.ThreeSilos.Client.GetGrain<IRunGrain>(first.RunKey);
            await broken.Begin(first);
            RunProgress step;
            do step = await broken.Advance(10_000);
            while (!step.Done && step.Checkpoint is not { Number: >= 2 });
            if (step.Checkpoint is not { } checkpoint) continue; // too short a run for a checkpoint: nothing to resume
            await Task.WhenAll(Enumerable.Range(0, partitions)
                .Select(p => clusters.ThreeSilos.Client.GetGrain<IPartitionGrain>(p, PartitionKeys.Extension(first, p)).Abandon()).Append(broken.Abandon()));

            var resumed = first with { RunKey = $"{Guid.NewGuid():N}/{policy.Name}", ResumeFrom = checkpoint, Checkpoints = null };
            var run = clusters.TwoSilos.Client.GetGrain<IRunGrain>(resumed.RunKey);
            await run.Begin(resumed);
            while (!(await run.Advance(10_000)).Done) { }
            var result = ShootdownRunner.ResultOf(scenario, await run.Collect());
            Assert.True(expected == result.Digest, $"{policy.Name}, resumed from checkpoint {checkpoint.Number} at window {checkpoint.Windows}: digests differ");
        }
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task GrainsOnAnyNumberOfSilosAndPartitionsMatchTheReferenceDigest(string name)
    {
        var scenario = Load(name);
        var reference = await ShootdownRunner.RunAsync(scenario, EngineKind.Reference, cancellation: TestContext.Current.CancellationToken);
        var expected = reference.Runs.Select(r => r.Result.Digest).ToArray();
        Assert.All(reference.Runs, r => Assert.True(r.Result.EventsProcessed > 0));
        foreach (var (silos, layoutPartitions) in Layouts)
        {
            var partitions = Math.Min(layoutPartitions, scenario.Machine.CpuCount);
            var grains = await ShootdownRunner.RunAsync(scenario, EngineKind.Grains, grains: Cluster(silos).Client, options: new(Partitions: partitions), cancellation: TestContext.Current.CancellationToken);
            Assert.True(expected.SequenceEqual(grains.Runs.Select(r => r.Result.Digest)), $"{silos} silos, {partitions} partitions: digests differ");
            var expectedPartitions = partitions == 0 ? Math.Min(scenario.Machine.CpuCount, silos * Environment.ProcessorCount) : partitions;
            Assert.All(grains.Runs, r => Assert.Equal((silos, expectedPartitions), (r.Engine!.Silos, r.Engine.Partitions)));
        }
    }

    private Orleans.TestingHost.InProcessTestCluster Cluster(int silos) => silos switch
    {
        1 => clusters.OneSilo,
        2 => clusters.TwoSilos,
        _ => clusters.ThreeSilos,
    };

    /// <summary>
    /// Placement: a partition and every entity it drives share a silo, so a window's calls to
    /// entities never leave it; and with more partitions than silos, every silo hosts CPUs.
    /// </summary>
    [Fact]
    public async Task EntitiesShareASiloWithTheirPartitionAndEverySiloHostsCpus()
    {
        var scenario = ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml"));
        var client = clusters.ThreeSilos.Client;
        var spec = new RunSpec($"placement-{Guid.NewGuid():N}", scenario.Definition.ToJson(), SimulationDefinition.PolicyToJson(KernelPolicy.Baseline), KernelPolicy.Baseline.Name,
            TraceSampleRatio: 0, RunId: "placement", Scenario: scenario.Name, Partitions: 6);
        var run = client.GetGrain<IRunGrain>(spec.RunKey);
        await run.Begin(spec);

        var activations = (await client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics(null, null, TestContext.Current.CancellationToken))
            .Where(s => s.GrainId.ToString().Contains(spec.RunKey, StringComparison.Ordinal) && !s.GrainType.Contains(nameof(RunGrain), StringComparison.Ordinal))
            .Select(s =>
            {
                s.GrainId.GetIntegerKey(out var extension);
                return (Type: s.GrainType, Partition: PartitionKeys.PartitionOf(extension!), s.SiloAddress);
            })
            .ToList();
        var partitionSilo = activations.Where(a => a.Type.Contains(nameof(PartitionGrain), StringComparison.Ordinal)).ToDictionary(a => a.Partition, a => a.SiloAddress);
        var entities = activations.Where(a => !a.Type.Contains(nameof(PartitionGrain), StringComparison.Ordinal)).ToList();
        Assert.Equal(6, partitionSilo.Count);
        Assert.Equal(scenario.Machine.CpuCount + scenario.Workload.Processes.Length, entities.Count);
        Assert.All(entities, e => Assert.Equal(partitionSilo[e.Partition], e.SiloAddress));
        Assert.Equal(3, entities.Where(e => e.Type.Contains(nameof(CpuGrain), StringComparison.Ordinal)).Select(e => e.SiloAddress).Distinct().Count());

        while (!(await run.Advance(1000)).Done) { }
        var report = await run.Collect();
        Assert.Equal(scenario.Machine.CpuCount, report.Cpus.Length);
        Assert.Equal(Enumerable.Range(0, scenario.Machine.CpuCount), report.Cpus.Select(c => c.Counters.Cpu));
    }

    /// <summary>
    /// Cross-partition traffic is one batch per partition pair per window: the batches a run
    /// sends never outnumber, window by window, the ordered pairs of partitions it ran.
    /// </summary>
    [Fact]
    public async Task PartitionsExchangeAtMostOneBatchPerPairPerWindow()
    {
        var scenario = Load("inline:storm");
        foreach (var partitions in new[] { 2, 5 })
        {
            var run = await ShootdownRunner.RunAsync(scenario, EngineKind.Grains, grains: clusters.ThreeSilos.Client, options: new(Partitions: partitions), cancellation: TestContext.Current.CancellationToken);
            foreach (var (policy, stats) in scenario.Policies.Zip(run.Runs.Select(r => r.Engine!)))
            {
                // The same protocol on the same partitions: the same windows, so the same span.
                var inProcess = new ParallelEngine(scenario.SetupFor(policy), partitions);
                inProcess.Run(cancellation: TestContext.Current.CancellationToken);
                Assert.Equal((inProcess.Windows, inProcess.SpanEvents), (stats.Windows, stats.SpanEvents));
                Assert.InRange(stats.BatchCalls, 0, stats.Windows * partitions * (partitions - 1));
                // Per window: at most one call to each partition, plus the start and the end.
                Assert.InRange(stats.CoordinatorCalls, stats.Windows, (stats.Windows + 5) * partitions);
            }
            // The baseline syncs every CPU, so its csds cross partitions; the patched kernel only
            // flushes the process's CPUs 0-7, which two partitions of 32 CPUs keep in partition 0.
            Assert.True(run.Runs.Single(r => r.Result.Policy == "baseline").Engine!.BatchCalls > 0);
            if (partitions == 2) Assert.Equal(0, run.Runs.Single(r => r.Result.Policy == "patched").Engine!.BatchCalls);
        }
    }
}
