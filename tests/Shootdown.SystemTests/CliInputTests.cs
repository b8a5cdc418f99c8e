using System.Text.RegularExpressions;

namespace Shootdown.Tests;

/// <summary>What the parsers promise (see the model tests), seen through the CLI in a child process: exit codes, one-line errors, nothing written.</summary>
public sealed class CliInputTests
{
    [Fact]
    public void EveryShippedScenarioValidates()
    {
        foreach (var path in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "scenarios"), "*.yaml"))
        {
            var (exit, stdout, stderr) = Cli.Shootdown("validate", path);
            Assert.True(exit == 0, $"{path}: {stderr}");
            Assert.StartsWith("ok: ", stdout);
        }
    }

    /// <summary>
    /// Ten million broadcasts to 65,536 CPUs: valid, and far beyond any machine's memory. Refused
    /// before it starts, in one line naming the field, by run (exit 2) and by validate (exit 1);
    /// it used to grow until the runtime aborted with "Out of memory.".
    /// </summary>
    [Fact]
    public void ARunThatCannotFitIsRefusedBeforeItStartsNamingTheField()
    {
        var dir = Sim.TempDir();
        var scenario = Sim.Write(dir, "huge.yaml", """
            name: huge
            machine:
              synthetic: "pack:512 numa:1 core:64 pu:2"
            duration_us: 1000000
            processes:
              - name: db
                cpus: 0-63
            operations:
              - type: collapse_huge_page
                process: db
                cpu: 64
                rate_per_s: 10000000
            """);
        foreach (var engine in new[] { "reference", "grains" })
        {
            var (exit, stdout, stderr) = Cli.Shootdown("run", scenario, "--engine", engine, "--plain");
            Assert.Equal(2, exit);
            Assert.Equal("", stdout);
            Assert.Matches(@"^shootdown: \S+huge\.yaml: operations\[0\]\.rate_per_s: collapse_huge_page operations need about [\d.]+ TB; about [\d.]+ TB in all, " +
                           @"and this process may use [\d.]+ GB \(lower it, or run on a larger machine\)\n$", stderr);
        }
        var check = Cli.Shootdown("validate", scenario);
        Assert.Equal(1, check.Exit);
        Assert.StartsWith("ok: huge: 65536 CPUs", check.Out);
        Assert.Matches(@"^shootdown: \S+huge\.yaml: operations\[0\]\.rate_per_s: .* TB; .*\n$", check.Err);
    }

    /// <summary>
    /// The progress bars on a terminal (util-linux's <c>script</c> gives the CLI one): each shows
    /// the virtual time simulated per second of wall time, the time elapsed and the time remaining.
    /// </summary>
    [Fact]
    public void TheProgressBarsShowARateAndTheTimeRemaining()
    {
        var command = $"dotnet {Path.Combine(AppContext.BaseDirectory, "shootdown.dll")} run {Sim.ScenarioPath("storm-8192.yaml")} --engine reference";
        var (exit, stdout, stderr) = Cli.Run("script", ["-qec", command, "/dev/null"]);
        Assert.True(exit == 0, stderr);
        var plain = Regex.Replace(stdout, @"\x1b\[[0-9;?]*[A-Za-z]", "");
        Assert.Matches(@"(baseline|patched): virtual time .* \d+% +\d+\.\d (ns|µs|ms|s)/s virtual \d\d:\d\d:\d\d \d\d:\d\d:\d\d", plain);
    }

    [Fact]
    public void ASweepRunFromTheCliPrintsItsTableAndWritesCsvAndEveryPoint()
    {
        var dir = Sim.TempDir();
        var scenario = Sim.Write(dir, "s.yaml", "machine:\n  synthetic: \"pack:8 core:8 pu:2\"\n  scale: 32\n" + Sim.SmallWorkload +
                                            "\nsweep:\n  machine.scale: [32, 64]\n");
        var (exit, stdout, stderr) = Cli.Shootdown("run", scenario, "--engine", "reference", "--out", Path.Combine(dir, "out"));
        Assert.True(exit == 0, stderr);
        // The terminal table: one row per point and policy, within 100 columns.
        var lines = stdout.TrimEnd('\n').Split('\n');
        Assert.All(lines, l => Assert.True(l.Length <= 100, $"{l.Length} columns: {l}"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^\s+2\s+64\s+baseline\s"));
        var csv = File.ReadAllLines(Path.Combine(dir, "out", "sweep.csv"));
        Assert.Equal(5, csv.Length);
        Assert.StartsWith("point,machine.scale,cpus,policy,replicates,csds_queued,csds_queued_low,csds_queued_high,collateral_ipis", csv[0]);
        Assert.StartsWith("2,64,64,patched,1,", csv[4]);
        // Each point's results.json records the values it was run with.
        Assert.Contains("\"machine.scale\": \"64\"", File.ReadAllText(Path.Combine(dir, "out", "point-02", "results.json")));
        Assert.True(File.Exists(Path.Combine(dir, "out", "point-02", "interrupts-patched.txt")));
        Assert.Empty(Directory.GetDirectories(Path.Combine(dir, "out"), ".shootdown-staging*"));
        var asCsv = Cli.Shootdown("run", scenario, "--engine", "reference", "--csv");
        Assert.Equal(string.Join("\n", csv) + "\n", asCsv.Out);
    }

    [Fact]
    public void TopologyShowPrintsWhatLscpuAndNumactlPrint()
    {
        var (exit, stdout, stderr) = Cli.Shootdown("topology", "show", Sim.TopologyPath("lscpu/lscpu-x86_64-epyc_7451"));
        Assert.True(exit == 0, stderr);
        Assert.Contains("NUMA node(s):           8\n", stdout);
        Assert.Contains("NUMA node3 CPU(s):      18-23,66-71\n", stdout);
        Assert.Contains("  7:   20  20  20  20  20  20  20  10", stdout);
        Assert.Contains("cluster 0: CPUs 0-7,48-55", stdout);
        var scaled = Cli.Shootdown("topology", "show", Sim.TopologyPath("lscpu/lscpu-x86_64-epyc_7451"), "--scale", "8192");
        Assert.Equal(2, scaled.Exit);
        Assert.Contains("--scale: 8192 CPUs is not a whole number of packages of 48 CPUs (try 8160 or 8208)", scaled.Err);
        // `lscpu -p | shootdown topology show -`: the same machine, named as standard input.
        var piped = Cli.ShootdownWithInput(File.ReadAllText(Sim.TopologyPath("lscpu/lscpu-x86_64-epyc_7451")), "topology", "show", "-");
        Assert.True(piped.Exit == 0, piped.Err);
        Assert.Equal(stdout.Replace("Machine:                lscpu-x86_64-epyc_7451\n", "Machine:                (standard input)\n"), piped.Out);
        Assert.Equal((2, "", "shootdown: -:1:1: (file): neither hwloc XML (lstopo --of xml) nor lscpu -p output\n"),
            Cli.ShootdownWithInput("not a machine\n", "topology", "show", "-"));
    }

    /// <summary>
    /// `-` reads standard input, under the same byte cap as a file: a scenario piped in runs to
    /// the digests of the same file; a stream past the cap is one line; an error names the line in `-`.
    /// </summary>
    [Fact]
    public void DashReadsABoundedScenarioFromStandardInput()
    {
        var text = File.ReadAllText(Sim.ScenarioPath("small-64.yaml"));
        var (exit, stdout, stderr) = Cli.ShootdownWithInput(text, "run", "-", "--engine", "reference");
        Assert.True(exit == 0, stderr);
        var (_, fileOut, _) = Cli.Shootdown("run", Sim.ScenarioPath("small-64.yaml"), "--engine", "reference");
        Assert.Equal(fileOut.Split('\n').Where(l => l.StartsWith("digest ", StringComparison.Ordinal)), stdout.Split('\n').Where(l => l.StartsWith("digest ", StringComparison.Ordinal)));

        (exit, _, stderr) = Cli.ShootdownWithInput(new string('a', 2 << 20), "validate", "-");
        Assert.Equal((2, "shootdown: -:0:0: (file): larger than the 1,048,576-byte limit for a scenario\n"), (exit, stderr));

        (exit, _, stderr) = Cli.ShootdownWithInput("name: x\nmachine: small-64\nduration_us: -5\n", "validate", "-");
        Assert.Equal(2, exit);
        Assert.StartsWith("shootdown: -:3:14: duration_us: ", stderr);
    }

    /// <summary>
    /// Ctrl-C mid-run: one line, exit 130, and nothing in --out (results are written only whole, at
    /// the end). The storm runs for 50 ms of virtual time, minutes of wall time, so that it is still
    /// running when interrupted however fast the engine gets (at 1 ms it once finished within the 4 s).
    /// </summary>
    [Fact]
    public async Task ACancelledRunSaysSoAndLeavesNothing()
    {
        var output = Path.Combine(Sim.TempDir(), "out");
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "shootdown.dll"), "run", Sim.ScenarioPath("storm-8192.yaml"), "--engine", "reference", "--duration", "50ms", "--out", output })
            psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync(cancellationToken: TestContext.Current.CancellationToken);
        _ = p.StandardOutput.ReadToEndAsync(cancellationToken: TestContext.Current.CancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(4), cancellationToken: TestContext.Current.CancellationToken);
        Assert.False(p.HasExited, "the storm finished before it could be cancelled");
        using (var kill = System.Diagnostics.Process.Start("kill", ["-INT", $"{p.Id}"])!) await kill.WaitForExitAsync(cancellationToken: TestContext.Current.CancellationToken);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(limit.Token);
        Assert.Equal((130, "shootdown: cancelled\n"), (p.ExitCode, await stderr));
        Assert.False(Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any());
    }

    /// <summary>
    /// An unknown command or option is one line naming the token, not a second line about what is
    /// then missing, with the nearest names when a typo is likely; an option the command lacks is
    /// named even where the parser would take it for the command's argument and blame the next word.
    /// </summary>
    [Theory]
    [InlineData(new[] { "frobnicate" }, "shootdown: Unrecognized command or argument 'frobnicate'.\n")]
    [InlineData(new[] { "presets", "--bogus" }, "shootdown: presets has no option '--bogus'\n")]
    [InlineData(new[] { "rn", "x.yaml" }, "shootdown: Unrecognized command or argument 'rn'; did you mean 'run'?\n")]
    [InlineData(new[] { "topolgy" }, "shootdown: Unrecognized command or argument 'topolgy'; did you mean 'topology'?\n")]
    [InlineData(new[] { "topology", "shwo", "x" }, "shootdown: Unrecognized command or argument 'shwo'; did you mean 'show'?\n")]
    [InlineData(new[] { "run", "--engin", "reference", "x.yaml" }, "shootdown: run has no option '--engin'; did you mean '--engine'?\n")]
    [InlineData(new[] { "run", "x.yaml", "--seed", "-1", "--plian" }, "shootdown: run has no option '--plian'; did you mean '--plain'?\n")]
    public void AnUnknownTokenIsOneLineNamingIt(string[] args, string expected)
    {
        var (exit, stdout, stderr) = Cli.Shootdown(args);
        Assert.Equal((2, "", expected), (exit, stdout, stderr));
    }

    /// <summary>
    /// <c>calibrate</c> finds the shipped calibration scenarios from any directory, as <c>bench</c>
    /// finds its cases; a <c>--scenarios</c> that is not there is one line.
    /// </summary>
    [Fact]
    public void CalibrateRunsFromAnyDirectory()
    {
        var elsewhere = Sim.TempDir();
        var (exit, stdout, stderr) = Cli.Dotnet(elsewhere, [Path.Combine(AppContext.BaseDirectory, "shootdown.dll"), "calibrate", "--markdown"]);
        Assert.True(exit == 0, stderr);
        // The table docs/calibration.md holds, found without the repository root as the current directory.
        Assert.Contains(stdout.Trim(), File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "docs", "calibration.md")));
        var missing = Path.Combine(elsewhere, "nothing");
        Assert.Equal((2, "", $"shootdown: {missing}: no such directory\n"), Cli.Dotnet(elsewhere, [Path.Combine(AppContext.BaseDirectory, "shootdown.dll"), "calibrate", "--scenarios", missing]));
    }

    /// <summary>
    /// <c>replay</c> writes what <c>run</c> writes: the result files and the HTML report, the same
    /// results as its <c>--json</c>, and refuses a report path that would overwrite the trace.
    /// </summary>
    [Fact]
    public void ReplayWritesTheResultFilesAndTheReport()
    {
        var dir = Sim.TempDir();
        var trace = Path.Combine(AppContext.BaseDirectory, "traces", "hand-8cpu.txt");
        var (exit, _, stderr) = Cli.Shootdown("replay", trace, "--engine", "reference", "--out", Path.Combine(dir, "out"), "--report", Path.Combine(dir, "r.html"));
        Assert.True(exit == 0, stderr);
        var json = Cli.Shootdown("replay", trace, "--engine", "reference", "--json");
        // The same runs: every policy's figures alike (the command line and run id differ).
        static string Policies(string results) => System.Text.Json.Nodes.JsonNode.Parse(results)!["policies"]!.ToJsonString();
        Assert.Equal(Policies(json.Out), Policies(File.ReadAllText(Path.Combine(dir, "out", "results.json"))));
        Assert.True(File.Exists(Path.Combine(dir, "out", "interrupts-patched.txt")));
        Assert.StartsWith("<!DOCTYPE html>", File.ReadAllText(Path.Combine(dir, "r.html")));
        Assert.Equal((2, "", $"shootdown: --report {trace}: exists and is not an HTML report; give a new file, or an .html path to replace\n"),
            Cli.Shootdown("replay", trace, "--engine", "reference", "--report", trace));
    }

    /// <summary>Bare <c>shootdown</c> is someone asking what it does: the help, on standard output, as <c>--help</c> prints it.</summary>
    [Fact]
    public void BareShootdownPrintsTheHelp()
    {
        var bare = Cli.Shootdown();
        Assert.Equal((0, ""), (bare.Exit, bare.Err));
        Assert.Equal(Cli.Shootdown("--help").Out, bare.Out);
        Assert.Contains("Usage:\n  shootdown [command] [options]", bare.Out);
        Assert.Contains("\n  run <scenario> ", bare.Out);
    }

    [Fact]
    public void TheCliExitsTwoWithOneLineAndWritesNothing()
    {
        var dir = Sim.TempDir();
        var topology = Path.Combine(dir, "truncated.xml");
        File.WriteAllText(topology, File.ReadAllText(Sim.TopologyPath("hwloc/16amd64-4distances.xml"))[..5000]);
        var samples = ScenarioMutants.All().Where((_, i) => i % 40 == 3).Take(8).Select(m => m.Text)
            .Append("machine:\n  from: truncated.xml\nduration_us: 10\nprocesses:\n  - name: p\n    cpus: 0\n")
            .Append("machine: small-64\nduration_us: 10\nrealtime_cpus: 5-3\nprocesses:\n  - name: p\n    cpus: 0\n");
        var n = 0;
        foreach (var text in samples)
        {
            var scenario = Path.Combine(dir, $"bad{n++}.yaml");
            File.WriteAllText(scenario, text);
            var output = Path.Combine(dir, $"out{n}");
            var (exit, stdout, stderr) = Cli.Shootdown("run", scenario, "--engine", "reference", "--out", output);
            if (exit == 0) continue; // a mutant that is still a valid scenario
            Assert.Equal(2, exit);
            Assert.Matches(new Regex(@"^shootdown: .+:\d+:\d+: \S+: .+\n$"), stderr);
            Assert.DoesNotContain("   at ", stderr);
            Assert.False(Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any(), $"{scenario} left files in {output}");
        }
    }

    [Fact]
    public void SpecialFilesAreRefusedWithoutReadingOrBlocking()
    {
        var dir = Sim.TempDir();
        var fifo = Path.Combine(dir, "scenario.fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo)) mkfifo.WaitForExit();
        var includesFifo = Sim.Write(dir, "includes-fifo.yaml", $"machine:\n  include: {fifo}\nduration_us: 10\nprocesses:\n  - name: p\n    cpus: 0\n");
        var topologyFromZero = Sim.Write(dir, "from-zero.yaml", "machine:\n  from: /dev/zero\nduration_us: 10\nprocesses:\n  - name: p\n    cpus: 0\n");
        foreach (var (args, problem) in new (string[], string)[]
        {
            (["validate", "/dev/zero"], "/dev/zero:0:0: (file): is a character device, not a regular file"),
            (["validate", "/dev/urandom"], "/dev/urandom:0:0: (file): is a character device, not a regular file"),
            (["validate", fifo], "(file): is a FIFO (named pipe), not a regular file"),
            (["validate", dir], "(file): is a directory, not a file"),
            (["validate", includesFifo], "machine.include: "),
            (["validate", topologyFromZero], "/dev/zero:0:0: (file): is a character device"),
            (["replay", "/dev/zero"], "/dev/zero:0:0: (file): is a character device, not a regular file"),
            (["replay", fifo], "(file): is a FIFO (named pipe), not a regular file"),
        })
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var (exit, _, stderr) = Cli.Shootdown(args);
            Assert.True(exit == 2, $"{string.Join(' ', args)}: exit {exit}, {stderr}");
            Assert.Contains(problem, stderr);
            Assert.Single(stderr.TrimEnd('\n').Split('\n'));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"{string.Join(' ', args)} took {clock.Elapsed}");
        }
    }

    [Fact]
    public void NothingUserSuppliedReachesTheTerminalAsAnEscapeSequence()
    {
        var dir = Sim.TempDir();
        var named = Sim.Write(dir, "a\u001b]0;pwned\u0007.yaml", "machine: small-64\nduration_us: 10\nprocesses:\n  - name: p\n    cpus: 0\n");
        var ok = Cli.Shootdown("validate", named);
        Assert.True(ok.Exit == 0, ok.Err);
        Assert.Contains("ok: a\\x1b]0;pwned\\x07:", ok.Out);
        var bad = Sim.Write(dir, "bad.yaml", "machine: \"x\\e[31mred\"\nduration_us: 10\nprocesses:\n  - name: p\n    cpus: 0\n");
        var refused = Cli.Shootdown("validate", bad);
        Assert.Equal(2, refused.Exit);
        Assert.Contains("machine: contains the control character U+001B", refused.Err);
        Assert.DoesNotContain('\u001b', ok.Out + ok.Err + refused.Out + refused.Err);
    }

    [Fact]
    public void RefusedOrStaleOutputsAreCaughtBeforeTheRunAndLeaveNothing()
    {
        var dir = Sim.TempDir();
        var single = Sim.ScenarioPath("small-64.yaml");
        var sweep = Sim.Write(dir, "sweep.yaml", "machine:\n  synthetic: \"pack:8 core:8 pu:2\"\n  scale: 32\n" + Sim.SmallWorkload +
                                                 "\nsweep:\n  machine.scale: [32, 64]\n");
        var fresh = Path.Combine(dir, "new", "nested");
        var stale = Path.Combine(dir, "stale");
        Directory.CreateDirectory(Path.Combine(stale, "point-03"));
        var html = Path.Combine(dir, "report-dir");
        Directory.CreateDirectory(html);
        foreach (var (args, problem) in new (string[], string)[]
        {
            (["run", single, "--engine", "reference", "--out", fresh, "--json", "--csv"], "--json and --csv cannot go together"),
            (["run", sweep, "--engine", "reference", "--out", stale], $"--out {stale}: holds point-03 from an earlier sweep of more points"),
            (["run", single, "--engine", "reference", "--out", stale], "holds an earlier sweep's results"),
            (["run", single, "--engine", "reference", "--report", html], "is a directory; give a file name"),
            (["run", single, "--engine", "reference", "--report", sweep], "exists and is not an HTML report"),
            (["trace", single, "--out", fresh, "--from-us", "5000"], "--from-us 5000 is at or past the run's end (2000 µs)"),
        })
        {
            var (exit, stdout, stderr) = Cli.Shootdown(args);
            Assert.True(exit == 2, $"{string.Join(' ', args)}: exit {exit}, {stderr}");
            Assert.Contains(problem, stderr);
            Assert.Equal("", stdout);
        }
        Assert.False(Directory.Exists(Path.Combine(dir, "new")), "a refused run left its --out directory behind");
        Assert.Equal(["point-03"], Directory.GetFileSystemEntries(stale).Select(Path.GetFileName));
        Assert.StartsWith("machine:", File.ReadAllText(sweep));
    }
}
