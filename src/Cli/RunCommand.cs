using System.Collections.Immutable;
using System.CommandLine;
using Shootdown.Analysis.Reporting;
using Shootdown.Analysis.Runs;
using Shootdown.Client.Running;
using Shootdown.Scenarios;
using Shootdown.Hosting;
using Shootdown.Telemetry.Export;
using Spectre.Console;

namespace Shootdown.Cli;

/// <summary>
/// <c>shootdown run SCENARIO [--engine grains|reference] [--silos N] [--partitions N] [--seeds N] [--seed S] [--duration T]
/// [--set PATH=VALUE]… [--json|--csv] [--out DIR] [--report FILE.html]</c> plus the telemetry flags. A scenario with a
/// sweep runs every point and prints one row per point and policy; with <c>--seeds</c>, every point N times.
/// </summary>
internal static class RunCommand
{
    /// <summary>How often a run on a running cluster checkpoints by default: a lost silo then costs at most this much of the run.</summary>
    public const double DefaultCheckpointSeconds = 10;

    public static Command Create()
    {
        var scenario = new Argument<string>("scenario") { Description = "A scenario YAML file (see scenarios/), or - for standard input." };
        var engine = new Option<string>("--engine")
        {
            Description = "grains (every CPU and mm a grain), reference (the sequential oracle) or parallel (the grains' window protocol on this process's cores, no messaging).",
            DefaultValueFactory = _ => "grains",
        };
        engine.AcceptOnlyFromAmong(EngineNames.All);
        var silos = NumberOptions.Int("--silos", "Embedded silos to start in this process (1-16).", 1, 1, 16);
        var partitions = NumberOptions.Int("--partitions",
            "Partitions driving the grain or parallel engine's entities (default 0: one per core of each silo, or of this machine; at most the machine's CPU count).", 0, 0, 65536);
        var json = new Option<bool>("--json") { Description = "Print results.json (for a sweep, every point's) to standard output instead of the table." };
        var csv = new Option<bool>("--csv") { Description = "Print CSV to standard output instead of the table: the sweep's rows, or per-CPU counters." };
        var farm = new Option<bool>("--farm")
        {
            Description = "Grain engine: run the sweep's points and the policies concurrently, one per silo, each run kept on its silo " +
                          "(default: one after another, each spread over every silo). Results are the same.",
        };
        var checkpointWindows = NumberOptions.OptionalInt("--checkpoint-windows",
            "Grain engine: take a global checkpoint every K windows, which a run resumes from when it loses a silo.", 1, int.MaxValue);
        var checkpointSeconds = NumberOptions.OptionalDouble("--checkpoint-seconds",
            $"Grain engine: take a global checkpoint once this much wall time has passed since the last " +
            $"(default on a running cluster: {DefaultCheckpointSeconds} s; embedded: none). 0 turns them off.", 0, 86_400);
        var output = new OutputFlags();
        var seeds = NumberOptions.Int("--seeds",
            $"Run N replicates: the scenario's seed and N-1 seeds derived from it, side by side over the cores (1-{ReplicateSeeds.Max}). " +
            "Every figure becomes a median with its 95 % interval; rerun any replicate alone with --seed S.", 1, 1, ReplicateSeeds.Max);
        var seed = new Option<string?>("--seed") { Description = "Run under this seed instead of the scenario's (the same as --set seed=S)." };
        var duration = new Option<string?>("--duration") { Description = "Virtual time to simulate, with a unit: 500us, 200ms, 2s (the same as --set duration_us=…)." };
        var set = new Option<string[]>("--set")
        {
            Description = "Replace a scenario field by its YAML path, checked as in the file: --set machine.scale=2048, " +
                          "--set operations[0].rate_per_s=500, --set 'realtime_cpus=[0, 1]'. Repeatable; recorded in results.json.",
            AllowMultipleArgumentsPerToken = false,
        };
        var hist = new Option<bool>("--hist")
        {
            Description = "After the table, print log2 histograms (as bpftrace's hist()) of each operation's latency and of the interrupts each CPU took, pooled over replicates.",
        };
        var telemetryFlags = new TelemetryFlags();
        var clusterFlags = new ClusterFlags();

        var command = new Command("run", "Run a scenario under each of its policies and compare them.")
            { scenario, engine, silos, partitions, seeds, seed, duration, set, hist, farm, checkpointWindows, checkpointSeconds, json, csv };
        foreach (var option in output.All.Concat(clusterFlags.All).Concat(telemetryFlags.All)) command.Options.Add(option);
        command.SetAction(async (parse, cancellation) =>
        {
            var overrides = (parse.GetValue(set) ?? []).Select(o => ScenarioOverride.Parse(o)).ToList();
            if (parse.GetValue(seed) is { } seedText) overrides.Add(ScenarioOverride.Seed(seedText));
            if (parse.GetValue(duration) is { } durationText) overrides.Add(ScenarioOverride.Duration(durationText));
            var file = ScenarioLoader.Load(parse.GetValue(scenario)!, overrides);
            var replicates = parse.GetValue(seeds);
            var seedDirs = replicates == 1 ? [] : file.Points.SelectMany(p => ReplicateSeeds.Derive(p.Scenario.Seed, replicates)).Select(s => $"seed-{s}").ToHashSet();
            // Checked before a possibly long run, so a bad --out or --report costs nothing and writes nothing.
            if (output.Problem(parse, target => ResultFiles.StaleResults(target, file.IsSweep ? file.Points.Length : 0, seedDirs)) is { } problem)
            {
                Console.Error.WriteLine($"shootdown: {problem}");
                return 2;
            }
            var telemetry = telemetryFlags.Resolve(parse, parse.GetValue(output.Out));
            var kind = EngineNames.Parse(parse.GetValue(engine)!);
            var (asJson, asCsv) = (parse.GetValue(json), parse.GetValue(csv));
            if (asJson && asCsv)
            {
                Console.Error.WriteLine("shootdown: --json and --csv cannot go together");
                return 2;
            }
            if (parse.GetValue(hist) && (asJson || asCsv || file.IsSweep))
            {
                Console.Error.WriteLine("shootdown: --hist prints under a scenario's table; it cannot go with --json, --csv or a sweep");
                return 2;
            }
            var partitionCount = parse.GetValue(partitions);
            var fewestCpus = file.Points.Min(pt => pt.Scenario.Machine.CpuCount);
            if (partitionCount > fewestCpus)
            {
                Console.Error.WriteLine($"shootdown: --partitions {partitionCount}: the machine has only {fewestCpus} CPUs, and a partition drives at least one");
                return 2;
            }
            if (partitionCount > 0 && kind == EngineKind.Reference)
            {
                Console.Error.WriteLine("shootdown: --partitions divides the grain or parallel engine's entities; it cannot go with --engine reference");
                return 2;
            }
            var (cluster, clusterProblem) = clusterFlags.Resolve(parse);
            if (clusterProblem is not null)
            {
                Console.Error.WriteLine($"shootdown: {clusterProblem}");
                return 2;
            }
            if (cluster is not null && parse.GetResult(silos) is { Implicit: false })
            {
                Console.Error.WriteLine("shootdown: --silos starts silos in this process; it cannot go with --gateway or --redis, which name a running cluster");
                return 2;
            }
            if (cluster is not null && EngineNames.InProcess(kind))
            {
                Console.Error.WriteLine($"shootdown: --gateway and --redis run the grain engine on a cluster; they cannot go with --engine {EngineNames.Of(kind)}");
                return 2;
            }
            // Replicates are independent runs: they always go side by side.
            var farmed = parse.GetValue(farm) || replicates > 1;
            // Estimated from the scenario before anything starts: a run that cannot fit is refused now, not aborted later.
            var (tooLarge, longRun) = Admission.Check(file, replicates, kind, onCluster: cluster is not null, farmed, Admission.AvailableBytes);
            if (tooLarge is not null)
            {
                Console.Error.WriteLine($"shootdown: {file.Path}: {tooLarge}");
                return 2;
            }
            if (longRun is not null) Console.Error.WriteLine($"shootdown: {file.Path}: {longRun}");
            await using var connection = cluster is null ? null : await Connect(cluster, cancellation);
            if (cluster is not null && connection is null) return 1;
            if (EngineNames.InProcess(kind) && (parse.GetValue(checkpointWindows) is not null || parse.GetValue(checkpointSeconds) is not null))
            {
                Console.Error.WriteLine($"shootdown: checkpoints are the grain engine's; they cannot go with --engine {EngineNames.Of(kind)}");
                return 2;
            }
            // A running cluster checkpoints every few seconds unless told otherwise; an embedded one
            // shares the client's process, whose loss no checkpoint in it survives.
            var seconds = parse.GetValue(checkpointSeconds) ?? (cluster is null ? 0 : DefaultCheckpointSeconds);
            var checkpoints = parse.GetValue(checkpointWindows) is not null || seconds > 0
                ? new Grains.CheckpointPolicy(parse.GetValue(checkpointWindows) ?? 0, (int)Math.Round(seconds * 1000))
                : null;
            var options = new GrainEngineOptions(partitionCount, farmed, checkpoints);
            var showProgress = !asJson && !asCsv && !TerminalOutput.Plain;
            using var pipeline = TelemetryPipeline.Start(telemetry);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var scenarios = ReplicateSet.Expand(file, replicates);
            var comparisons = await RunWithProgress(file, scenarios, replicates, kind, parse.GetValue(silos), options, connection?.Client, showProgress,
                telemetry.SampleRatio, cancellation);
            // Said on standard error, so that a farmed run's standard output is the sequential one's.
            if (farmed) FarmReport.Write(Console.Error, comparisons, clock.Elapsed, perRun: parse.GetValue(farm));
            // Flushed before the results are printed, so the last spans are already in the dashboard.
            if (pipeline is not null) Console.Error.WriteLine($"shootdown: {pipeline.Shutdown()}");
            var dir = parse.GetValue(output.Out);
            var provenance = Provenance.OfThisProcess(file.Overrides);
            var sets = ReplicateSet.Group(file, replicates, comparisons);
            if (file.IsSweep)
            {
                var rows = file.Points.Select((p, i) => new SweepReport.Row(i, p.Values, sets[i])).ToList();
                var sweepCsv = SweepReport.Csv(file, rows);
                ResultFiles.SweepPosition Position(int i) => new(i, file.SweepParameters, file.Points[i].Values);
                if (dir is not null)
                    ResultFiles.WriteAll(dir, sets.SelectMany((set, i) => ResultFiles.Render(set, provenance, Position(i)).Select(f => ($"point-{i + 1:00}/{f.Name}", f.Content)))
                        .Prepend(("sweep.csv", sweepCsv)));
                if (parse.GetValue(output.Report) is { } sweepReport) OutputFlags.WriteReport(sweepReport, SweepHtml.Render(file, rows, provenance));
                if (asJson) Console.Out.WriteLine($"[{string.Join(",\n", sets.Select((set, i) => ResultFiles.ToJson(set, provenance, Position(i))))}]");
                else if (asCsv) Console.Out.Write(sweepCsv);
                else SweepReport.Write(Console.Out, file, rows);
                return 0;
            }
            var result = sets[0];
            output.Write(parse, result, provenance);
            if (asJson) Console.Out.WriteLine(ResultFiles.ToJson(result, provenance));
            else if (asCsv) Console.Out.Write(result.Count == 1 ? CpuCsv.Render(result.First) : ResultFiles.SummaryCsv(result));
            else
            {
                ComparisonTable.Write(AnsiConsole.Console, result);
                if (parse.GetValue(hist)) Console.Out.Write("\n" + TerminalHistograms.Render(result));
            }
            return 0;
        });
        return command;
    }

    private static async Task<ClusterConnection?> Connect(ClusterAddress cluster, CancellationToken cancellation)
    {
        try
        {
            return await ClusterConnection.ConnectAsync(cluster, cancellation);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Console.Error.WriteLine($"shootdown: cannot connect to {cluster}: {ClusterConnection.Explain(e, cluster)}");
            return null;
        }
    }

    private static async Task<ImmutableArray<Comparison>> RunWithProgress(ScenarioFile file, IReadOnlyList<Scenario> scenarios, int replicates, EngineKind kind,
        int silos, GrainEngineOptions options, IGrainFactory? grains, bool showProgress, double traceSampleRatio, CancellationToken cancellation)
    {
        var tracing = RunTracing.New(traceSampleRatio);
        if (!showProgress)
        {
            // No bars, but what happened to the cluster is still told, on standard error.
            var events = new InlineProgress<RunProgressInfo>(p =>
            {
                if (p.Event is { } line) Console.Error.WriteLine($"shootdown: {line}");
            });
            return await ShootdownRunner.RunAllAsync(scenarios, kind, silos, grains, events, cancellation, tracing, options);
        }
        var result = ImmutableArray<Comparison>.Empty;
        await AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new VirtualRateColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var tasks = new Dictionary<(int, string), ProgressTask>();
                for (var i = 0; i < scenarios.Count; i++)
                {
                    var point = file.Points[i / replicates];
                    var label = file.IsSweep ? $"{file.Settings(point.Values)} " : "";
                    if (replicates > 1) label += $"seed {scenarios[i].Seed} ";
                    foreach (var p in scenarios[i].Policies)
                        tasks[(i, p.Name)] = ctx.AddTask(Markup.Escape($"{label}{p.Name}: virtual time"), maxValue: scenarios[i].DurationNs);
                }
                var progress = new InlineProgress<RunProgressInfo>(p =>
                {
                    var task = tasks[(p.Point, p.Policy)];
                    if (p.Event is { } line) AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(line)}[/]");
                    task.Value = p.Done ? task.MaxValue : Math.Min(p.VirtualTimeNs, p.DurationNs);
                });
                result = await ShootdownRunner.RunAllAsync(scenarios, kind, silos, grains, progress, cancellation, tracing, options);
            });
        return result;
    }

    /// <summary>Reports on the caller's thread (Spectre's progress tasks are thread-safe), so the bar is current when the run returns.</summary>
    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
