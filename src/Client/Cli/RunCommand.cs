using System.Collections.Immutable;
using System.CommandLine;
using Shootdown.Client.Reporting;
using Shootdown.Client.Running;
using Shootdown.Scenarios;
using Shootdown.Telemetry.Export;
using Shootdown.Silo;
using Spectre.Console;

namespace Shootdown.Client.Cli;

/// <summary>
/// <c>shootdown run SCENARIO [--engine grains|reference] [--silos N] [--partitions N] [--json|--csv] [--out DIR] [--report FILE.html]</c>
/// plus the telemetry flags. A scenario with a sweep runs every point and prints one row per point.
/// </summary>
internal static class RunCommand
{
    /// <summary>How often a run on a running cluster checkpoints by default: a lost silo then costs at most this much of the run.</summary>
    public const double DefaultCheckpointSeconds = 10;

    public static Command Create()
    {
        var scenario = new Argument<string>("scenario") { Description = "A scenario YAML file (see scenarios/), or - for standard input." };
        var engine = new Option<string>("--engine") { Description = "grains (every CPU and mm a grain) or reference (the sequential oracle).", DefaultValueFactory = _ => "grains" };
        engine.AcceptOnlyFromAmong("grains", "reference");
        var silos = NumberOptions.Int("--silos", "Embedded silos to start in this process (1-16).", 1, 1, 16);
        var partitions = NumberOptions.Int("--partitions",
            "Partitions driving the grain engine's entities (default 0: one per core of each silo; at most the machine's CPU count).", 0, 0, 65536);
        var json = new Option<bool>("--json") { Description = "Print results.json (for a sweep, every point's) to standard output instead of the table." };
        var csv = new Option<bool>("--csv") { Description = "Print CSV to standard output instead of the table: the sweep's rows, or per-CPU counters." };
        var outDir = new Option<string?>("--out")
        {
            Description = "Write results.json, cpus.csv, interrupts-POLICY.txt and osnoise-POLICY.txt into this directory " +
                          "(a sweep: sweep.csv and one point-NN directory per point), all written atomically.",
        };
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
        var report = new Option<string?>("--report")
        {
            Description = "Write a self-contained HTML report (heatmaps, latency CDFs, noise and comparison tables) to this file.",
        };
        var telemetryFlags = new TelemetryFlags();
        var clusterFlags = new ClusterFlags();

        var command = new Command("run", "Run a scenario under each of its policies and compare them.") { scenario, engine, silos, partitions, farm, checkpointWindows, checkpointSeconds, json, csv, outDir, report };
        foreach (var option in clusterFlags.All.Concat(telemetryFlags.All)) command.Options.Add(option);
        command.SetAction(async (parse, cancellation) =>
        {
            var file = ScenarioLoader.Load(parse.GetValue(scenario)!);
            if (parse.GetValue(outDir) is { } target
                && (ResultFiles.CannotWriteInto(target) ?? ResultFiles.StaleResults(target, file.IsSweep ? file.Points.Length : 0)) is { } why)
            {
                // Checked before a possibly long run, so a bad --out costs nothing and writes nothing.
                Console.Error.WriteLine($"shootdown: --out {target}: {why}");
                return 2;
            }
            if (parse.GetValue(report) is { } html && ReportProblem(html, file.IsSweep) is { } problem)
            {
                Console.Error.WriteLine($"shootdown: --report {html}: {problem}");
                return 2;
            }
            var telemetry = telemetryFlags.Resolve(parse, parse.GetValue(outDir));
            var kind = parse.GetValue(engine) == "reference" ? EngineKind.Reference : EngineKind.Grains;
            var (asJson, asCsv) = (parse.GetValue(json), parse.GetValue(csv));
            if (asJson && asCsv)
            {
                Console.Error.WriteLine("shootdown: --json and --csv cannot go together");
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
                Console.Error.WriteLine("shootdown: --partitions divides the grain engine's entities; it cannot go with --engine reference");
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
            if (cluster is not null && kind == EngineKind.Reference)
            {
                Console.Error.WriteLine("shootdown: --gateway and --redis run the grain engine on a cluster; they cannot go with --engine reference");
                return 2;
            }
            await using var connection = cluster is null ? null : await Connect(cluster, cancellation);
            if (cluster is not null && connection is null) return 1;
            var farmed = parse.GetValue(farm);
            if (farmed && kind == EngineKind.Reference)
            {
                Console.Error.WriteLine("shootdown: --farm spreads runs over the grain engine's silos; it cannot go with --engine reference");
                return 2;
            }
            if (kind == EngineKind.Reference && (parse.GetValue(checkpointWindows) is not null || parse.GetValue(checkpointSeconds) is not null))
            {
                Console.Error.WriteLine("shootdown: checkpoints are the grain engine's; they cannot go with --engine reference");
                return 2;
            }
            // A running cluster checkpoints every few seconds unless told otherwise; an embedded one
            // shares the client's process, whose loss no checkpoint in it survives.
            var seconds = parse.GetValue(checkpointSeconds) ?? (cluster is null ? 0 : DefaultCheckpointSeconds);
            var checkpoints = parse.GetValue(checkpointWindows) is not null || seconds > 0
                ? new Grains.CheckpointPolicy(parse.GetValue(checkpointWindows) ?? 0, (int)Math.Round(seconds * 1000))
                : null;
            var options = new GrainEngineOptions(partitionCount, farmed, checkpoints);
            var showProgress = !asJson && !asCsv && !ConsoleOutput.Plain;
            using var pipeline = TelemetryPipeline.Start(telemetry);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var comparisons = await RunWithProgress(file, kind, parse.GetValue(silos), options, connection?.Client, showProgress, telemetry.SampleRatio,
                cancellation);
            // Said on standard error, so that a farmed run's standard output is the sequential one's.
            if (farmed) FarmReport.Write(Console.Error, comparisons, clock.Elapsed);
            // Flushed before the results are printed, so the last spans are already in the dashboard.
            if (pipeline is not null) Console.Error.WriteLine($"shootdown: {pipeline.Shutdown()}");
            var dir = parse.GetValue(outDir);
            if (file.IsSweep)
            {
                var rows = file.Points.Select((p, i) => new SweepReport.Row(p.Values, comparisons[i])).ToList();
                var sweepCsv = SweepReport.Csv(file, rows);
                if (dir is not null)
                    ResultFiles.WriteAll(dir, comparisons.SelectMany((c, i) => ResultFiles.Render(c).Select(f => ($"point-{i + 1:00}/{f.Name}", f.Content)))
                        .Prepend(("sweep.csv", sweepCsv)));
                if (asJson) Console.Out.WriteLine($"[{string.Join(",\n", comparisons.Select(ResultFiles.ToJson))}]");
                else if (asCsv) Console.Out.Write(sweepCsv);
                else SweepReport.Write(AnsiConsole.Console, file, rows);
                return 0;
            }
            var comparison = comparisons[0];
            if (dir is not null) ResultFiles.WriteAll(dir, ResultFiles.Render(comparison));
            if (parse.GetValue(report) is { } reportPath)
                ResultFiles.WriteAll(Path.GetDirectoryName(Path.GetFullPath(reportPath))!, [(Path.GetFileName(reportPath), HtmlReport.Render(comparison))]);
            if (asJson) Console.Out.WriteLine(ResultFiles.ToJson(comparison));
            else if (asCsv) Console.Out.Write(CpuCsv.Render(comparison));
            else ComparisonTable.Write(AnsiConsole.Console, comparison);
            return 0;
        });
        return command;
    }

    /// <summary>
    /// Why the HTML report cannot go to <paramref name="path"/>: checked before the run, as --out
    /// is. It replaces an earlier report, but nothing else: a directory, or a file that is not
    /// HTML (a scenario, say), is refused rather than overwritten.
    /// </summary>
    private static string? ReportProblem(string path, bool sweep)
    {
        if (sweep) return "a sweep has one result per point; use --out for sweeps";
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) return "is a directory; give a file name";
        if (File.Exists(full) && Path.GetExtension(full).ToLowerInvariant() is not (".html" or ".htm"))
            return "exists and is not an HTML report; give a new file, or an .html path to replace";
        return ResultFiles.CannotWriteInto(Path.GetDirectoryName(full)!);
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

    private static async Task<ImmutableArray<Comparison>> RunWithProgress(ScenarioFile file, EngineKind kind, int silos, GrainEngineOptions options,
        IGrainFactory? grains, bool showProgress, double traceSampleRatio, CancellationToken cancellation)
    {
        var scenarios = file.Points.Select(p => p.Scenario).ToList();
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
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var tasks = new Dictionary<(int, string), ProgressTask>();
                for (var i = 0; i < file.Points.Length; i++)
                {
                    var point = file.Points[i];
                    var label = file.IsSweep ? $"{string.Join(", ", file.SweepParameters.Zip(point.Values, (k, v) => $"{k}={v}"))} " : "";
                    foreach (var p in point.Scenario.Policies)
                        tasks[(i, p.Name)] = ctx.AddTask(Markup.Escape($"{label}{p.Name}: virtual time"), maxValue: point.Scenario.DurationNs);
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
