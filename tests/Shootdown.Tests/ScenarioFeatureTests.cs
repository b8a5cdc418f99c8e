using Shootdown.Engine;
using Shootdown.Model.Kernel;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>Machines from files, includes and sweeps.</summary>
public sealed class ScenarioFeatureTests
{
    private static string Write(string dir, string name, string text)
    {
        var path = Path.Combine(dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private const string Workload = """
        duration_us: 1000
        processes:
          - name: db
            cpus: 0-7
        operations:
          - type: collapse_huge_page
            process: db
            cpu: 8
            at_us: [100, 300, 500]
        """;

    [Fact]
    public void AMachineFromATopologyFile_Scaled_ThroughAnInclude()
    {
        var dir = Sim.TempDir();
        File.Copy(Sim.TopologyPath("lscpu/lscpu-x86_64-epyc_7451"), Path.Combine(dir, "epyc.lscpu"));
        Write(dir, "machines/big.yaml", "from: ../epyc.lscpu\nscale: 480\n");
        var scenario = ScenarioLoader.LoadFile(Write(dir, "s.yaml", "machine:\n  include: machines/big.yaml\n" + Workload));
        Assert.Equal((480, 10, 40), (scenario.Machine.CpuCount, scenario.Machine.PackageCount, scenario.Machine.NodeCount));
    }

    [Fact]
    public void ProcessesComeFromIncludedFiles_OneOrAList()
    {
        var dir = Sim.TempDir();
        Write(dir, "procs/pair.yaml", "- name: a\n  cpus: 0-3\n- name: b\n  cpus: 4-7\n");
        Write(dir, "procs/one.yaml", "name: c\ncpus: 8\n");
        var s = ScenarioLoader.LoadFile(Write(dir, "s.yaml", """
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
        Write(dir, "loop.yaml", "include: loop.yaml\n");
        var loop = Assert.Throws<ScenarioException>(() => ScenarioLoader.LoadFile(Write(dir, "s.yaml", "machine:\n  include: loop.yaml\n" + Workload)));
        Assert.Contains("includes itself", loop.Message);
        Assert.EndsWith("loop.yaml", loop.File);

        Write(dir, "bad.yaml", "name: x\ncpus: 0-99\n");
        var bad = Assert.Throws<ScenarioException>(() => ScenarioLoader.LoadFile(Write(dir, "t.yaml", "machine: small-64\nduration_us: 10\nprocesses:\n  - include: bad.yaml\n")));
        Assert.EndsWith("bad.yaml", bad.File);
        Assert.Equal((2L, "cpus"), (bad.Line, bad.Field));

        var missing = Assert.Throws<ScenarioException>(() => ScenarioLoader.LoadFile(Write(dir, "u.yaml", "machine:\n  from: nowhere.xml\n" + Workload)));
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
            """ + "\n" + Workload + "\n" + """
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
            var baseline = new ReferenceEngine(point.Scenario.SetupFor(KernelPolicy.Baseline)).Run();
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
        var yaml = "machine:\n  synthetic: \"pack:8 core:8 pu:2\"\n  scale: 32\n" + Workload + "\n" + sweep;
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

    [Fact]
    public void EveryShippedScenarioValidates()
    {
        foreach (var path in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "scenarios"), "*.yaml"))
        {
            var (exit, stdout, stderr) = Sim.Shootdown("validate", path);
            Assert.True(exit == 0, $"{path}: {stderr}");
            Assert.StartsWith("ok: ", stdout);
        }
    }

    [Fact]
    public void ASweepRunFromTheCliPrintsItsTableAndWritesCsvAndEveryPoint()
    {
        var dir = Sim.TempDir();
        var scenario = Write(dir, "s.yaml", "machine:\n  synthetic: \"pack:8 core:8 pu:2\"\n  scale: 32\n" + Workload +
                                            "\nsweep:\n  machine.scale: [32, 64]\n");
        var (exit, stdout, stderr) = Sim.Shootdown("run", scenario, "--engine", "reference", "--out", Path.Combine(dir, "out"));
        Assert.True(exit == 0, stderr);
        Assert.Contains("ipis_baseline_over_patched", stdout);
        var csv = File.ReadAllLines(Path.Combine(dir, "out", "sweep.csv"));
        Assert.Equal(3, csv.Length);
        Assert.StartsWith("point,machine.scale,cpus,baseline_ipis", csv[0]);
        Assert.StartsWith("2,64,64,", csv[2]);
        Assert.True(File.Exists(Path.Combine(dir, "out", "point-02", "interrupts-patched.txt")));
        Assert.Empty(Directory.GetDirectories(Path.Combine(dir, "out"), ".shootdown-staging*"));
        var asCsv = Sim.Shootdown("run", scenario, "--engine", "reference", "--csv");
        Assert.Equal(string.Join("\n", csv) + "\n", asCsv.Out);
    }
}
