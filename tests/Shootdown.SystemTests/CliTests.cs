using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Shootdown.Analysis.Runs;
using Shootdown.Client.Running;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>The shootdown CLI as a user runs it, in a child process.</summary>
public sealed class CliTests
{
    private static (int Exit, string Out, string Err) Shootdown(params string[] args) => Cli.Shootdown(args);

    private static string TempDir() => Sim.TempDir();

    [Theory]
    [InlineData("grains", "1")]
    [InlineData("grains", "3")]
    [InlineData("reference", "1")]
    [InlineData("parallel", "1")]
    public async Task RunWritesResultsWithTheReferenceDigests(string engine, string silos)
    {
        var dir = TempDir();
        var scenarioPath = Sim.ScenarioPath("small-64.yaml");
        var (exit, stdout, stderr) = Shootdown("run", scenarioPath, "--engine", engine, "--silos", silos, "--out", dir);
        Assert.True(exit == 0, stderr);
        Assert.Contains("collateral IPIs", stdout);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "results.json")));
        var digests = json.RootElement.GetProperty("policies").EnumerateArray().Select(p => p.GetProperty("digest").GetString()).ToArray();
        var reference = await ShootdownRunner.RunAsync(ScenarioLoader.LoadFile(scenarioPath), EngineKind.Reference, cancellation: TestContext.Current.CancellationToken);
        Assert.Equal(reference.Runs.Select(r => r.Result.Digest), digests);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
        // engine_stats accounts for every grain call the engine made, by caller.
        foreach (var stats in json.RootElement.GetProperty("engine_stats").EnumerateArray())
        {
            if (engine == "reference")
            {
                Assert.Equal(JsonValueKind.Null, stats.GetProperty("grain_calls").ValueKind);
                continue;
            }
            long Get(string name) => stats.GetProperty(name).GetInt64();
            if (engine == "parallel")
            {
                // The same windows, in one partition per core, and no grain call at all.
                Assert.Equal((0, Math.Min(Environment.ProcessorCount, 64), 0L), (stats.GetProperty("silos").GetInt32(), stats.GetProperty("partitions").GetInt32(), Get("grain_calls")));
                Assert.True(Get("windows") > 0);
                continue;
            }
            Assert.Equal(int.Parse(silos), stats.GetProperty("silos").GetInt32());
            Assert.InRange(stats.GetProperty("partitions").GetInt32(), 1, 64);
            Assert.True(Get("windows") > 0);
            Assert.Equal(Get("coordinator_calls") + Get("entity_calls") + Get("batch_calls"), Get("grain_calls"));
            Assert.Equal((double)Get("grain_calls") / Get("ipis"), stats.GetProperty("grain_calls_per_ipi").GetDouble(), 9);
        }
    }

    [Theory]
    [InlineData("machine: pack:1 core:1 pu:1\nduration_us: 10\nprocesses:\n  - name: solo\n    cpus: 0\noperations:\n  - type: collapse_huge_page\n    process: solo\n    cpu: 0\n    at_us: [1]\n")]
    [InlineData("machine: small-64\nduration_us: 10\nprocesses:\n  - name: idle\n    cpus: 0-3\n")]
    public void EdgeScenariosRunOnBothEngines(string yaml)
    {
        var path = Path.Combine(TempDir(), "edge.yaml");
        File.WriteAllText(path, yaml);
        var reference = Shootdown("run", path, "--engine", "reference");
        var grains = Shootdown("run", path);
        Assert.True(reference.Exit == 0, reference.Err);
        Assert.True(grains.Exit == 0, grains.Err);
        string Digests(string output) => string.Join("\n", output.Split('\n').Where(l => l.StartsWith("digest ")));
        Assert.Equal(Digests(reference.Out), Digests(grains.Out));
    }

    [Fact]
    public async Task RunsOnARunningClusterThroughItsGateways()
    {
        var scenarioPath = Sim.ScenarioPath("small-64.yaml");
        await using var cluster = await EmbeddedCluster.StartAsync(2, cancellation: TestContext.Current.CancellationToken);
        var args = new List<string> { "run", scenarioPath, "--json", "--cluster-id", cluster.ClusterId };
        foreach (var port in cluster.GatewayPorts) args.AddRange(["--gateway", $"127.0.0.1:{port}"]);
        var (exit, stdout, stderr) = Shootdown([.. args]);
        Assert.True(exit == 0, stderr);

        using var json = JsonDocument.Parse(stdout);
        Assert.Equal(0, json.RootElement.GetProperty("silos").GetInt32());
        var digests = json.RootElement.GetProperty("policies").EnumerateArray().Select(p => p.GetProperty("digest").GetString());
        var reference = await ShootdownRunner.RunAsync(ScenarioLoader.LoadFile(scenarioPath), EngineKind.Reference, cancellation: TestContext.Current.CancellationToken);
        Assert.Equal(reference.Runs.Select(r => r.Result.Digest), digests);
    }

    [Fact]
    public void AFarmedSweepGivesTheSequentialRowsAndSaysWhereEachRunWent()
    {
        // small-64 with its collapse rate swept over three points: six runs.
        var sweep = Path.Combine(TempDir(), "sweep.yaml");
        File.WriteAllText(sweep, File.ReadAllText(Sim.ScenarioPath("small-64.yaml")).Replace("machine: small-64",
            "machine: small-64\nsweep:\n  operations[0].rate_per_s: [2000, 5000, 10000]"));
        var sequential = Shootdown("run", sweep, "--silos", "2", "--csv");
        var farmed = Shootdown("run", sweep, "--silos", "2", "--csv", "--farm");
        Assert.True(sequential.Exit == 0, sequential.Err);
        Assert.True(farmed.Exit == 0, farmed.Err);
        // A header, then one row per point and policy.
        Assert.Equal(7, sequential.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(sequential.Out, farmed.Out);
        // Each run is kept on one silo, and both silos took runs.
        var placed = farmed.Err.Split('\n').Where(l => l.StartsWith("shootdown: farm: point ")).ToList();
        Assert.Equal(6, placed.Count);
        Assert.All(placed, l => Assert.Single(l[(l.IndexOf(" on ") + 4)..l.IndexOf(" (")].Split(' ')));
        Assert.Equal(2, placed.Select(l => l[(l.IndexOf(" on ") + 4)..l.IndexOf(" (")]).Distinct().Count());
        Assert.Contains("shootdown: farm: 6 runs on 2 silos in ", farmed.Err);
    }

    [Fact]
    public void AnUnreachableClusterIsOneLineAndExitOne()
    {
        var (exit, _, stderr) = Shootdown("run", Sim.ScenarioPath("small-64.yaml"), "--gateway", "127.0.0.1:1", "--cluster-id", "nobody");
        Assert.Equal(1, exit);
        Assert.StartsWith("shootdown: cannot connect to cluster 'nobody' at 127.0.0.1:1", stderr.Trim());
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public void JsonGoesToStandardOutputAlone()
    {
        var (exit, stdout, _) = Shootdown("run", Sim.ScenarioPath("small-64.yaml"), "--engine", "reference", "--json");
        Assert.Equal(0, exit);
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal(2, json.RootElement.GetProperty("policies").GetArrayLength());
    }

    [Fact]
    public void AMalformedScenarioExitsTwoWithOneLineAndWritesNothing()
    {
        var dir = TempDir();
        var bad = Path.Combine(dir, "bad.yaml");
        File.WriteAllText(bad, "machine: small-64\nduration_us: 100\nprocesses:\n  - name: db\n    cpus: 0-64\n");
        var (exit, stdout, stderr) = Shootdown("run", bad, "--out", dir);
        Assert.Equal(2, exit);
        Assert.Equal($"shootdown: {bad}:5:11: processes[0].cpus: CPU 64 is out of range: the machine has CPUs 0-63", stderr.Trim());
        Assert.Equal("", stdout);
        Assert.False(File.Exists(Path.Combine(dir, "results.json")));
    }

    [Theory]
    [InlineData("--silos", "0")]
    [InlineData("--silos", "abc")]
    [InlineData("--silos", "99999999999")]
    [InlineData("--checkpoint-seconds", "nan")]
    [InlineData("--checkpoint-windows", "0")]
    [InlineData("--partitions", "-1")]
    [InlineData("--partitions", "65")]
    [InlineData("--engine", "quantum")]
    [InlineData("--gateway", "nohost")]
    [InlineData("--gateway", "10.0.0.1:70000")]
    public void BadArgumentsExitTwo(string option, string value)
    {
        var (exit, _, stderr) = Shootdown("run", Sim.ScenarioPath("small-64.yaml"), option, value);
        Assert.Equal(2, exit);
        Assert.StartsWith($"shootdown: {option}", stderr);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));
    }

    [Theory]
    [InlineData("dashboard", "--port", "abc", "shootdown: --port must be a port number (1-65535), not 'abc'")]
    [InlineData("bench", "--repeat", "0", "shootdown: --repeat must be a whole number from 1 to 1000, not '0'")]
    [InlineData("bench", "--trace-sample", "1.5", "shootdown: --trace-sample must be a number from 0 to 1, not '1.5'")]
    [InlineData("bench", "--warmup", "-1", "shootdown: --warmup must be a whole number from 0 to 100, not '-1'")]
    public void NumbersAreParsedWithTheirRangeInEveryCommand(string command, string option, string value, string line)
    {
        var (exit, _, stderr) = Shootdown(command, option, value);
        Assert.Equal(2, exit);
        Assert.Equal(line, stderr.Trim());
    }

    /// <summary>
    /// <c>bench --warmup 1</c>: the child measures its second run of the policy, and the table says so
    /// in its own column; the run it measures is the same simulation (the same IPIs delivered).
    /// Beside each median, the table gives the least and most of the runs, and how many there were.
    /// </summary>
    [Fact]
    public void BenchMeasuresTheRunAfterItsWarmUpRuns()
    {
        var scenarios = Path.GetDirectoryName(Sim.ScenarioPath("khugepaged-8192.yaml"))!;
        var (exit, stdout, stderr) = Shootdown("bench", "--case", "sparse", "--engine", "reference", "--repeat", "1", "--warmup", "1", "--scenarios", scenarios, "--plain");
        Assert.True(exit == 0, stderr);
        Assert.Contains("  sparse reference tracing off after 1 warm-up run run 1: ", stdout);
        var table = TableCells(stdout);
        var (header, row) = (table[0], table[2]);
        Assert.Equal(["sparse", "reference", $"all ({Environment.ProcessorCount})"], row[..3]);
        Assert.Equal("1", row[Array.IndexOf(header, "warm-up runs")]);
        // One run: its median is the whole spread.
        var median = row[Array.IndexOf(header, "engine s (median)")];
        Assert.Equal($"{median}–{median} (1)", row[Array.IndexOf(header, "engine s range (runs)")]);
        var first = Shootdown("bench", "--case", "sparse", "--engine", "reference", "--repeat", "1", "--scenarios", scenarios, "--plain");
        var firstRow = TableCells(first.Out)[2];
        Assert.Equal("0", firstRow[Array.IndexOf(header, "warm-up runs")]);
        Assert.Equal(firstRow[Array.IndexOf(header, "IPIs delivered")], row[Array.IndexOf(header, "IPIs delivered")]);
        // The collector's pauses fall inside the stretch measured, and a run that builds an
        // 8192-CPU machine touches fresh pages, warm-up or not (the collector gives freed memory back).
        foreach (var r in new[] { row, firstRow })
        {
            Assert.InRange(double.Parse(r[Array.IndexOf(header, "GC pause s")], CultureInfo.InvariantCulture), 0, double.Parse(r[Array.IndexOf(header, "engine s (median)")], CultureInfo.InvariantCulture));
            Assert.True(long.Parse(r[Array.IndexOf(header, "minor faults")], NumberStyles.AllowThousands, CultureInfo.InvariantCulture) > 0, string.Join(" | ", r));
        }
    }

    /// <summary>The cells of each line of a Markdown table in <paramref name="output"/>: the header, the rule, then the rows.</summary>
    private static List<string[]> TableCells(string output) =>
        [.. output.Split('\n').Where(l => l.StartsWith('|')).Select(l => l.Trim('|').Split('|').Select(c => c.Trim()).ToArray())];

    /// <summary>The Aspire dashboard runs without a login: beyond loopback only when asked with --insecure.</summary>
    [Fact]
    public void ADashboardBeyondLoopbackNeedsInsecure()
    {
        var (exit, _, stderr) = Shootdown("dashboard", "--host", "0.0.0.0");
        Assert.Equal(2, exit);
        Assert.Equal("shootdown: --host 0.0.0.0 is beyond loopback and the dashboard runs without a login: " +
                     "give --insecure to serve it there anyway, or reach it through an SSH tunnel", stderr.Trim());
    }

    [Fact]
    public void AnUnwritableOutDirectoryIsBadInputAndNothingRuns()
    {
        var file = Path.Combine(TempDir(), "not-a-directory");
        File.WriteAllText(file, "");
        var (exit, stdout, stderr) = Shootdown("run", Sim.ScenarioPath("small-64.yaml"), "--engine", "reference", "--out", file);
        Assert.Equal(2, exit);
        Assert.StartsWith($"shootdown: --out {file}: ", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Equal("", stdout);
    }

    [Fact]
    public void AMissingFileIsBadInputToo()
    {
        var (exit, _, stderr) = Shootdown("run", "/nonexistent/scenario.yaml");
        Assert.Equal(2, exit);
        Assert.Contains("no such file", stderr);
    }

    [Fact]
    public void PipedOutputIsPlainAndNeverWrapped()
    {
        var scenario = Sim.Write(Sim.TempDir(), "s.yaml",
            "machine: small-64\nduration_us: 1000\npolicies: [baseline, patched, always-skip, sync-mm-cpumask]\n" +
            "processes:\n  - name: db\n    cpus: 0-7\noperations:\n  - type: collapse_huge_page\n    process: db\n    cpu: 8\n    at_us: [100]\n");
        var run = Shootdown("run", scenario, "--engine", "reference");
        Assert.True(run.Exit == 0, run.Err);
        Assert.DoesNotContain('\u001b', run.Out);
        var digests = run.Out.Split('\n').Where(l => l.StartsWith("digest ", StringComparison.Ordinal)).ToList();
        Assert.Equal(4, digests.Count);
        Assert.All(digests, l => Assert.Matches(@"^digest [a-z-]+ [0-9a-f]{64}$", l));
        // Headers whole, on one line each, at any width: the table is as wide as its content.
        var presets = Shootdown("presets").Out.Split('\n');
        Assert.Contains(presets, l => l.Contains("NUMA nodes") && l.Contains("x2APIC clusters") && l.Contains("description"));
        var listed = Shootdown("policies", "--plain").Out;
        Assert.Contains("wake_lazy_cpus on unshare", listed);
        Assert.DoesNotContain('\u001b', listed);
        // Values as the YAML spells them, not as the C# enums do.
        Assert.Matches(@"│ patched +│ when_flush_implies_ipi_broadcast +│ all_online_cpus +│ yes", listed);
        Assert.DoesNotContain("WhenFlush", listed);
    }
}
