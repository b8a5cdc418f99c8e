using Shootdown.Engine;
using Shootdown.Model.Kernel;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>Machines from files, includes and sweeps.</summary>
public sealed class ScenarioFeatureTests
{
    [Fact]
    public void AMachineFromATopologyFile_Scaled_ThroughAnInclude()
    {
        var dir = Sim.TempDir();
        File.Copy(Sim.TopologyPath("lscpu/lscpu-x86_64-epyc_7451"), Path.Combine(dir, "epyc.lscpu"));
        Sim.Write(dir, "machines/big.yaml", "from: ../epyc.lscpu\nscale: 480\n");
        var scenario = ScenarioLoader.LoadFile(Sim.Write(dir, "s.yaml", "machine:\n  include: machines/big.yaml\n" + Sim.SmallWorkload));
        Assert.Equal((480, 10, 40), (scenario.Machine.CpuCount, scenario.Machine.PackageCount, scenario.Machine.NodeCount));
    }

    [Fact]
    public void ProcessesComeFromIncludedFiles_OneOrAList()
    {
        var dir = Sim.TempDir();
        Sim.Write(dir, "procs/pair.yaml", "- name: a\n  cpus: 0-3\n- name: b\n  cpus: 4-7\n");
        Sim.Write(dir, "procs/one.yaml", "name: c\ncpus: 8\n");
        var s = ScenarioLoader.LoadFile(Sim.Write(dir, "s.yaml", """
            machine: small-64
            duration_us: 100
            processes:
              - include: procs/pair.yaml
              - include: procs/one.yaml
              - name: d
                cpus: 9
            """));
        Assert.Equal(["a", "b", "c", "d"], s.Workload.Processes.Select(p => p.Name));
    }

    [Fact]
    public void IncludeErrorsNameTheFileThatHasThem()
    {
        var dir = Sim.TempDir();
        Sim.Write(dir, "loop.yaml", "include: loop.yaml\n");
        var loop = Assert.Throws<ScenarioException>(() => ScenarioLoader.LoadFile(Sim.Write(dir, "s.yaml", "machine:\n  include: loop.yaml\n" + Sim.SmallWorkload)));
        Assert.Contains("includes itself", loop.Message);
        Assert.EndsWith("loop.yaml", loop.File);

        Sim.Write(dir, "bad.yaml", "name: x\ncpus: 0-99\n");
        var bad = Assert.Throws<ScenarioException>(() => ScenarioLoader.LoadFile(Sim.Write(dir, "t.yaml", "machine: small-64\nduration_us: 10\nprocesses:\n  - include: bad.yaml\n")));
        Assert.EndsWith("bad.yaml", bad.File);
        Assert.Equal((2L, "cpus"), (bad.Line, bad.Field));

        var missing = Assert.Throws<ScenarioException>(() => ScenarioLoader.LoadFile(Sim.Write(dir, "u.yaml", "machine:\n  from: nowhere.xml\n" + Sim.SmallWorkload)));
        Assert.Equal((2L, "machine.from"), (missing.Line, missing.Field));
    }

    [Fact]
    public void ASweepMakesOnePointPerValue_InLockstep_AndEachPointFollowsTheClosedForm()
    {
        // On an N-CPU machine, c collapses under the baseline send c·(N−1) sync IPIs.
        var file = ScenarioLoader.ParseFile("sweep.yaml", """
            machine:
              synthetic: "pack:8 core:8 pu:2"
              scale: 32
            realtime_cpus: 30-31
            """ + "\n" + Sim.SmallWorkload + "\n" + """
            sweep:
              machine.scale: { from: 32, to: 128, times: 2 }
              realtime_cpus: [30-31, 62-63, 126-127]
            """);
        Assert.True(file.IsSweep);
        Assert.Equal(["machine.scale", "realtime_cpus"], file.SweepParameters.ToArray());
        Assert.Equal(["32", "64", "128"], file.Points.Select(p => p.Values[0]).ToArray());
        foreach (var point in file.Points)
        {
            var n = point.Scenario.Machine.CpuCount;
            var baseline = new ReferenceEngine(point.Scenario.SetupFor(KernelPolicy.Baseline)).Run(cancellation: TestContext.Current.CancellationToken);
            Assert.Equal(3L * (n - 1), baseline.Ops.Sum(o => (long)o.SyncIpis));
            Assert.Equal(n - 2, point.Scenario.Workload.RealtimeCpus[0]);
        }
    }

    [Theory]
    [InlineData("sweep:\n  machine.scale: [32, 64]\n  realtime_cpus: [1]\n", "lockstep")]
    [InlineData("sweep:\n  machine..scale: [32]\n", "is not a path")]
    [InlineData("sweep:\n  operations[5].rate_per_s: [1]\n", "no 'operations[5]'")]
    [InlineData("sweep:\n  machine.scale: [33]\n", "sweep point 1: machine.scale=33")]
    [InlineData("sweep:\n  machine.scale: { from: 32, to: 64 }\n", "exactly one of step")]
    [InlineData("sweep:\n  machine.scale: { from: 1, to: 100000, step: 1 }\n", "more than 1000 points")]
    [InlineData("sweep: []\n", "must map parameter paths")]
    public void BadSweepsAreLocatedErrors(string sweep, string problem)
    {
        var yaml = "machine:\n  synthetic: \"pack:8 core:8 pu:2\"\n  scale: 32\n" + Sim.SmallWorkload + "\n" + sweep;
        var e = Assert.Throws<ScenarioException>(() => ScenarioLoader.ParseFile("bad.yaml", yaml));
        Assert.Contains(problem, e.Message);
        Assert.True(e.Line > 0, e.Message);
    }

    [Fact]
    public void TheShippedSweepCoversFiveSizes()
    {
        var file = ScenarioLoader.Load(Sim.ScenarioPath("sweep-cpus.yaml"));
        Assert.Equal([512, 1024, 2048, 4096, 8192], file.Points.Select(p => p.Scenario.Machine.CpuCount));
    }
}
