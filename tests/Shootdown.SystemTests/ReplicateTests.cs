using System.Text.Json;
using System.Text.RegularExpressions;
using Shootdown.Analysis.Reporting;
using Shootdown.Client.Running;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>
/// <c>run --seeds N</c> as a user runs it: every replicate is the run its own <c>--seed S</c> gives,
/// on both engines; results.json says how it was made; every statistic carries its n.
/// </summary>
public sealed class ReplicateTests
{
    private static string[] PolicyDigests(JsonElement replicate) =>
        [.. replicate.GetProperty("policies").EnumerateArray().Select(p => p.GetProperty("digest").GetString()!)];

    [Theory]
    [InlineData("reference")]
    [InlineData("grains")]
    public void EveryReplicateIsTheRunItsOwnSeedGives(string engine)
    {
        var scenario = Sim.ScenarioPath("small-64.yaml");
        var (exit, stdout, stderr) = Cli.Shootdown("run", scenario, "--engine", engine, "--seeds", "3", "--json");
        Assert.True(exit == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        var seeds = root.GetProperty("seeds").EnumerateArray().Select(s => s.GetUInt64()).ToArray();
        Assert.Equal(ReplicateSeeds.Derive(ScenarioLoader.LoadFile(scenario).Seed, 3), seeds);
        var replicates = root.GetProperty("replicates").EnumerateArray().ToArray();
        Assert.Equal(seeds, replicates.Select(r => r.GetProperty("seed").GetUInt64()));
        foreach (var replicate in replicates)
        {
            var seed = replicate.GetProperty("seed").GetUInt64().ToString();
            var alone = Cli.Shootdown("run", scenario, "--engine", "reference", "--seed", seed, "--json");
            Assert.True(alone.Exit == 0, alone.Err);
            using var single = JsonDocument.Parse(alone.Out);
            Assert.Equal(PolicyDigests(single.RootElement), PolicyDigests(replicate));
            Assert.Equal(["seed=" + seed], single.RootElement.GetProperty("overrides").EnumerateArray().Select(o => o.GetString()));
        }
        // Farmed side by side, and said so on standard error.
        Assert.Contains("shootdown: farm: 6 runs on ", stderr);
    }

    [Fact]
    public void ResultsSayHowTheyWereMadeAndEveryFigureHasItsN()
    {
        var dir = Sim.TempDir();
        var scenario = Sim.ScenarioPath("small-64.yaml");
        var (exit, stdout, stderr) = Cli.Shootdown("run", scenario, "--engine", "reference", "--seeds", "6", "--set", "operations[0].rate_per_s=4000",
            "--duration", "20ms", "--out", dir);
        Assert.True(exit == 0, stderr);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "results.json")));
        var root = json.RootElement;
        Assert.Equal(Provenance.FormatVersion, root.GetProperty("format_version").GetInt32());
        Assert.Matches(@"^\d+\.\d+", root.GetProperty("tool").GetProperty("version").GetString());
        Assert.Equal(["operations[0].rate_per_s=4000", "duration_us=20000"], root.GetProperty("overrides").EnumerateArray().Select(o => o.GetString()));
        // Quoted as a shell needs it: brackets are glob characters.
        Assert.Contains("--seeds 6 --set 'operations[0].rate_per_s=4000' --duration 20ms", root.GetProperty("command_line").GetString());
        var loaded = ScenarioLoader.Load(scenario, [ScenarioOverride.Parse("operations[0].rate_per_s=4000"), ScenarioOverride.Duration("20ms")]).Points[0].Scenario;
        Assert.Equal(Provenance.DefinitionHash(loaded), root.GetProperty("scenario_sha256").GetString());
        Assert.Equal(20_000_000, root.GetProperty("duration_ns").GetInt64());

        // The summary: every figure of every policy has n = 6 and an interval around its median.
        foreach (var policy in root.GetProperty("summary").GetProperty("policies").EnumerateArray())
        {
            foreach (var figure in policy.GetProperty("figures").EnumerateObject())
            {
                var f = figure.Value;
                Assert.True(f.GetProperty("n").GetInt32() == 6, figure.Name);
                Assert.InRange(f.GetProperty("median").GetDouble(), f.GetProperty("low").GetDouble(), f.GetProperty("high").GetDouble());
                Assert.True(f.GetProperty("coverage").GetDouble() >= 0.95);
            }
            foreach (var latency in policy.GetProperty("latency").EnumerateArray())
            {
                var n = latency.GetProperty("n").GetInt32();
                // A p99 only from 100 operations up.
                Assert.Equal(n >= 100, latency.GetProperty("p99_ns").ValueKind == JsonValueKind.Number);
            }
        }
        // Rates per second of virtual time: 20 ms at 4,000 collapses/s draws about 80 of them; every
        // operation type together gives the operations' rate.
        var figures = root.GetProperty("summary").GetProperty("policies")[0].GetProperty("figures");
        Assert.InRange(figures.GetProperty("collapse.count").GetProperty("median").GetDouble() / 0.020, 2500, 5500);
        var perReplicate = root.GetProperty("replicates").EnumerateArray()
            .Select(r => r.GetProperty("policies")[0].GetProperty("ops").GetArrayLength() / 0.020).Order().ToArray();
        Assert.Equal((perReplicate[2] + perReplicate[3]) / 2, figures.GetProperty("operations_per_s").GetProperty("median").GetDouble(), 6);

        // Each replicate's files in seed-S/, and summary.csv with a row per figure.
        foreach (var seed in root.GetProperty("seeds").EnumerateArray())
            Assert.True(File.Exists(Path.Combine(dir, $"seed-{seed.GetUInt64()}", "cpus.csv")));
        var csv = File.ReadAllLines(Path.Combine(dir, "summary.csv"));
        Assert.Equal("policy,figure,n,median,low,high,coverage", csv[0]);
        Assert.Contains(csv, l => l.StartsWith("baseline,collateral_ipis,6,", StringComparison.Ordinal));

        // The terminal table says what its cells are; latency cells carry n.
        Assert.Contains("median over 6 replicates [95 % interval for the median, distribution-free]", stdout);
        Assert.Matches(new Regex(@"latency p50 / p99 µs\s+│\s+[\d.]+ / [\d.–]+ \(n=\d"), stdout);
        Assert.Equal(6, Regex.Matches(stdout, @"^seed \d+ +baseline [0-9a-f]{16}  patched [0-9a-f]{16}$", RegexOptions.Multiline).Count);
    }

    [Fact]
    public void TooFewOperationsForAP99PrintTheMaxAndSaySo()
    {
        var (exit, stdout, stderr) = Cli.Shootdown("run", Sim.ScenarioPath("khugepaged-4096.yaml"), "--engine", "reference");
        Assert.True(exit == 0, stderr);
        Assert.Matches(new Regex(@"latency p50 / p99 µs\s+│\s+[\d.]+ / – \(n=18\)"), stdout);
        Assert.Contains("– : too few operations for that percentile (p50 needs 2, p99 100); read the max.", stdout);
        Assert.Contains("collapse max 958.6 µs vs 5014.6 µs (n=18 and 18, too few for a p99)", stdout);
    }

    /// <summary>Three embedded silos of two cores each: a farm of replicates puts runs on every silo, and results.json says which.</summary>
    [Fact]
    public void ReplicatesSpreadOverEverySiloAndSayWhere()
    {
        var (exit, stdout, stderr) = Cli.Shootdown("run", Sim.ScenarioPath("small-64.yaml"), "--silos", "3", "--seeds", "6", "--json");
        Assert.True(exit == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        var silos = json.RootElement.GetProperty("replicates").EnumerateArray()
            .SelectMany(r => r.GetProperty("engine_stats").EnumerateArray())
            .Select(s => Assert.Single(s.GetProperty("partition_silos").EnumerateArray().Select(p => p.GetString()).Distinct()))
            .Distinct().Count();
        Assert.Equal(3, silos);
    }
}
