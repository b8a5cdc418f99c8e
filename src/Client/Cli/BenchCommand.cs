using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Shootdown.Client.Running;
using Shootdown.Model.Kernel;
using Shootdown.Scenarios;
using Shootdown.Telemetry.Export;

namespace Shootdown.Client.Cli;

/// <summary>
/// <c>shootdown bench</c>: simulated IPI deliveries per wall-clock second and peak memory, per
/// engine, on the 8192-CPU khugepaged scenario and the 8192-CPU storm, with tracing off, on, or
/// both. Tracing on is the full pipeline: kernel, engine and Orleans spans at the sampling ratio,
/// exported as OTLP-JSON to a scratch directory. Each measurement runs in a fresh child process
/// so that peak memory is its own.
/// </summary>
internal static class BenchCommand
{
    private static readonly (string Case, string File)[] Cases =
    [
        ("sparse", "khugepaged-8192.yaml"),
        ("storm", "storm-8192.yaml"),
    ];

    public static Command Create()
    {
        var caseOption = new Option<string>("--case") { Description = "sparse, storm or all.", DefaultValueFactory = _ => "all" };
        caseOption.AcceptOnlyFromAmong("sparse", "storm", "all");
        var engineOption = new Option<string>("--engine") { Description = "grains, reference or both.", DefaultValueFactory = _ => "both" };
        engineOption.AcceptOnlyFromAmong("grains", "reference", "both");
        var repeat = new Option<int>("--repeat") { Description = "Runs per measurement; the median is reported.", DefaultValueFactory = _ => 3 };
        var scenarios = new Option<string?>("--scenarios") { Description = "The scenarios directory (default: found above the current directory)." };
        var tracing = new Option<string>("--tracing") { Description = "off, on (OTLP-JSON to a scratch directory) or both.", DefaultValueFactory = _ => "off" };
        tracing.AcceptOnlyFromAmong("off", "on", "both");
        var sample = new Option<double>("--trace-sample") { Description = "The sampling ratio with tracing on, for kernel operations and engine windows alike.", DefaultValueFactory = _ => TelemetryOptions.DefaultSampleRatio };
        sample.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is < 0 or > 1) r.AddError($"--trace-sample must be between 0 and 1, not {r.GetValueOrDefault<double>()}");
        });
        var single = new Option<string?>("--single") { Hidden = true };

        var command = new Command("bench", "Measure both engines on the 8192-CPU sparse and storm scenarios.")
        {
            caseOption, engineOption, repeat, scenarios, tracing, sample, single,
        };
        command.SetAction(async (parse, cancellation) =>
        {
            var dir = parse.GetValue(scenarios) ?? FindScenarios();
            if (parse.GetValue(single) is { } one) return await MeasureOnce(dir, one, cancellation);
            var cases = Cases.Where(c => parse.GetValue(caseOption) is "all" || parse.GetValue(caseOption) == c.Case).ToList();
            var engines = parse.GetValue(engineOption) is "both" ? new[] { "reference", "grains" } : [parse.GetValue(engineOption)!];
            var modes = parse.GetValue(tracing) is "both" ? new[] { "off", "on" } : [parse.GetValue(tracing)!];
            var ratio = parse.GetValue(sample);
            var rows = new List<string[]>();
            Console.WriteLine(MachineDescription());
            foreach (var (name, _) in cases)
            {
                foreach (var engine in engines)
                {
                    // Off and on alternate run by run, so that drift in the machine's speed hits both alike.
                    var samples = modes.ToDictionary(m => m, _ => new List<Sample>());
                    for (var i = 0; i < Math.Max(1, parse.GetValue(repeat)); i++)
                    {
                        foreach (var mode in modes)
                        {
                            var s = await RunChild(dir, $"{name}:{engine}:{mode}:{ratio.ToString(CultureInfo.InvariantCulture)}", cancellation);
                            samples[mode].Add(s);
                            Console.WriteLine($"  {name} {engine} tracing {mode} run {i + 1}: {s.IpisPerSecond / 1e6:0.000} M IPIs/s, {s.WallSeconds:0.00} s, " +
                                              $"peak {s.PeakBytes / 1048576.0:0} MiB, {N(s.Spans)} spans, {N(s.Dropped)} dropped");
                        }
                    }
                    foreach (var mode in modes)
                    {
                        var runs = samples[mode];
                        var median = runs.OrderBy(s => s.IpisPerSecond).ElementAt(runs.Count / 2);
                        var label = mode == "off" ? "off" : $"on, {ratio.ToString(CultureInfo.InvariantCulture)}";
                        rows.Add([name, engine, label, N(median.Ipis), median.WallSeconds.ToString("0.00", CultureInfo.InvariantCulture),
                            (median.IpisPerSecond / 1e6).ToString("0.000", CultureInfo.InvariantCulture),
                            (runs.Max(s => s.PeakBytes) / 1048576.0).ToString("0", CultureInfo.InvariantCulture), N(median.Events), N(median.Windows),
                            N(median.Spans), N(runs.Max(s => s.Dropped))]);
                    }
                }
            }
            // Plain Markdown, whatever the terminal width, so it pastes into the README as is.
            Console.WriteLine("| case | engine | tracing | IPIs delivered | wall s (median) | M IPIs/s | peak MiB | events | windows | spans | dropped |");
            Console.WriteLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var r in rows) Console.WriteLine($"| {string.Join(" | ", r)} |");
            return 0;
        });
        return command;
    }

    private sealed record Sample(long Ipis, double WallSeconds, long PeakBytes, long Events, long Windows, long Spans, long Dropped)
    {
        public double IpisPerSecond => Ipis / WallSeconds;
    }

    private static async Task<Sample> RunChild(string dir, string what, CancellationToken cancellation)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (!Environment.ProcessPath!.EndsWith("shootdown", StringComparison.Ordinal)) psi.ArgumentList.Add(typeof(BenchCommand).Assembly.Location);
        foreach (var a in new[] { "bench", "--scenarios", dir, "--single", what }) psi.ArgumentList.Add(a);
        using var child = Process.Start(psi)!;
        var output = await child.StandardOutput.ReadToEndAsync(cancellation);
        var error = await child.StandardError.ReadToEndAsync(cancellation);
        await child.WaitForExitAsync(cancellation);
        if (child.ExitCode != 0) throw new InvalidOperationException($"bench {what} failed: {error}");
        return JsonSerializer.Deserialize<Sample>(output.Trim().Split('\n')[^1])!;
    }

    /// <summary>
    /// In the child: run the baseline policy once and print one JSON line. The wall time runs to
    /// the end of the pipeline's flush: exporting is part of what tracing costs.
    /// </summary>
    private static async Task<int> MeasureOnce(string dir, string what, CancellationToken cancellation)
    {
        var parts = what.Split(':');
        var (name, engine, traced) = (parts[0], parts[1], parts[2] == "on");
        var tracing = RunTracing.New(double.Parse(parts[3], CultureInfo.InvariantCulture));
        var file = Path.Combine(dir, Cases.First(c => c.Case == name).File);
        var scenario = ScenarioLoader.LoadFile(file);
        var scratch = traced ? Directory.CreateTempSubdirectory("shootdown-bench-").FullName : null;
        try
        {
            await using var cluster = engine == "grains" ? await EmbeddedCluster.StartAsync(1, cancellation) : null;
            var clock = Stopwatch.StartNew();
            var pipeline = TelemetryPipeline.Start(traced ? new TelemetryOptions { FileDirectory = scratch, SampleRatio = tracing.SampleRatio, EngineSampleRatio = tracing.SampleRatio } : TelemetryOptions.Disabled);
            var run = cluster is null
                ? ShootdownRunner.RunReference(scenario, KernelPolicy.Baseline, cancellation: cancellation, tracing: tracing)
                : await ShootdownRunner.RunPolicyOnGrainsAsync(scenario, KernelPolicy.Baseline, cluster.GrainFactory, cancellation: cancellation, tracing: tracing);
            var summary = pipeline?.Shutdown();
            var wall = clock.Elapsed.TotalSeconds;
            pipeline?.Dispose();
            var ipis = run.Result.Cpus.Sum(c => c.CsdsHandled);
            Console.WriteLine(JsonSerializer.Serialize(new Sample(ipis, wall, Process.GetCurrentProcess().PeakWorkingSet64, run.Result.EventsProcessed, run.Windows,
                summary?.Spans ?? 0, summary?.Dropped ?? 0)));
            return 0;
        }
        finally
        {
            if (scratch is not null) Directory.Delete(scratch, recursive: true);
        }
    }

    private static string FindScenarios()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var candidate = Path.Combine(d.FullName, "scenarios");
                if (File.Exists(Path.Combine(candidate, Cases[0].File))) return candidate;
            }
        }
        throw new ScenarioException("scenarios", 0, 0, "--scenarios", "no scenarios directory found; pass --scenarios DIR");
    }

    public static string MachineDescription()
    {
        var model = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        var memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024);
        return $"machine: {model ?? RuntimeInformation.ProcessArchitecture.ToString()}, {Environment.ProcessorCount} cores, {memory:0} GiB, " +
               $"{RuntimeInformation.OSDescription}, .NET {Environment.Version}, Server GC {System.Runtime.GCSettings.IsServerGC}";
    }

    private static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
}
