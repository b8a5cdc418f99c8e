using Shootdown.Model.Simulation;
using Shootdown.Client.Running;
using Shootdown.Grains;
using Shootdown.Model.Kernel;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>The grain engine must reproduce the reference engine's digest, whatever the number of silos.</summary>
[Collection(ClusterCollection.Name)]
public sealed class EngineEqualityTests(ClusterFixture clusters)
{
    /// <summary>
    /// Scenarios that exercise different paths: the shipped smoke test, a storm with coalescing,
    /// migration and timeslicing, and the safety scenarios' walkers, INVLPGB, KVM steal time and
    /// munmap's IPI fallback (the digest covers the safety report), a replayed trace (explicit
    /// flush targets) and the calibration storm's multi-table unshares (start_us, count).
    /// </summary>
    public static TheoryData<string> Scenarios => new()
    {
        "small-64.yaml",
        "safety/invlpgb.yaml",
        "safety/kvm-pv.yaml",
        "safety/rcu-walkers-ipi-fallback.yaml",
        "inline:storm",
        "inline:migration",
        "replay:hand-8cpu.txt",
        "calibration/fork-exit-196.yaml",
    };

    private static Scenario Load(string name) => name switch
    {
        "inline:storm" => Sim.Parse("""
            machine: pack:2 numa:2 core:8 pu:2
            duration_us: 300
            seed: 11
            processes:
              - name: storm
                threads: 8
                cpus: 0-7
            operations:
              - type: collapse_huge_page
                process: storm
                cpus: 0-7
                back_to_back: true
            """),
        "inline:migration" => Sim.Parse("""
            machine: pack:2 numa:1 core:8 pu:2
            duration_us: 3000
            seed: 5
            timeslice_us: 100
            realtime_cpus: 30-31
            processes:
              - name: web
                threads: 24
                cpus: 0-15
                run_us: 80
                sleep_us: 40
                migrate_us: 150
              - name: batch
                threads: 8
                cpus: 8-15
            operations:
              - type: flush_range
                process: web
                cpu: 2
                pages: 40
                rate_per_s: 20000
              - type: collapse_huge_page
                process: web
                cpu: 20
                rate_per_s: 5000
            irqs_off:
              - cpus: 0-15
                period_us: 7
                duration_us: 1.5
            """),
        _ when name.StartsWith("replay:", StringComparison.Ordinal) => Client.KernelTrace.FtraceReplay.ToScenario(
            Client.KernelTrace.FtraceReplay.Read(Path.Combine(AppContext.BaseDirectory, "traces", name["replay:".Length..])), null, ["baseline", "patched"]),
        _ => ScenarioLoader.LoadFile(Sim.ScenarioPath(name)),
    };

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task GrainsOnOneAndThreeSilosMatchTheReferenceDigest(string name)
    {
        var scenario = Load(name);
        var reference = await ShootdownRunner.RunAsync(scenario, EngineKind.Reference);
        var one = await ShootdownRunner.RunAsync(scenario, EngineKind.Grains, grains: clusters.OneSilo.Client);
        var three = await ShootdownRunner.RunAsync(scenario, EngineKind.Grains, grains: clusters.ThreeSilos.Client);
        var expected = reference.Runs.Select(r => r.Result.Digest).ToArray();
        Assert.Equal(expected, one.Runs.Select(r => r.Result.Digest));
        Assert.Equal(expected, three.Runs.Select(r => r.Result.Digest));
        Assert.All(reference.Runs, r => Assert.True(r.Result.EventsProcessed > 0));
    }

    [Fact]
    public async Task CpuGrainsAreActivatedOnEverySilo()
    {
        var scenario = ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml"));
        var client = clusters.ThreeSilos.Client;
        var spec = new RunSpec($"placement-{Guid.NewGuid():N}", scenario.Definition.ToJson(), SimulationDefinition.PolicyToJson(KernelPolicy.Baseline), KernelPolicy.Baseline.Name,
            TraceSampleRatio: 0, RunId: "placement", Scenario: scenario.Name);
        var run = client.GetGrain<IRunGrain>(spec.RunKey);
        await run.Begin(spec);

        var stats = await client.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics();
        var silosWithCpus = stats.Where(s => s.GrainType.Contains(nameof(CpuGrain)) && s.ActivationCount > 0).Select(s => s.SiloAddress).Distinct().Count();
        Assert.Equal(3, silosWithCpus);

        while (!(await run.Advance(1000)).Done) { }
        var report = await run.Collect();
        Assert.Equal(scenario.Machine.CpuCount, report.Cpus.Length);
    }
}
