using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text.Json;
using Shootdown.Analysis.Runs;
using Shootdown.Client.Running;
using Shootdown.Model.Kernel;
using Shootdown.Scenarios;
using Shootdown.Hosting;
using Shootdown.Telemetry.Export;

namespace Shootdown.Cli;

/// <summary>
/// <c>shootdown bench</c>: both engines on the 8192-CPU khugepaged scenario, the 8192-CPU storm
/// and the 65,536-CPU storm. Per measurement: engine seconds, simulated IPIs per second, grain
/// calls per IPI, windows, events per window and peak memory. Each measurement runs in a fresh
/// child process, so that peak memory is its own; with <c>--cores</c>, pinned to that many cores
/// (processor affinity, set by taskset before the runtime starts, so the runtime, its thread
/// pool and its GC see only those cores). The reference engine always runs in the same
/// invocation, so every grain figure is also a ratio to it, measured on the same machine minutes apart.
/// </summary>
internal static class BenchCommand
{
    private static readonly (string Case, string File)[] Cases =
    [
        ("sparse", "khugepaged-8192.yaml"),
        ("storm", "storm-8192.yaml"),
        ("storm-long", "storm-8192-long.yaml"),
        ("storm-65536", "storm-65536.yaml"),
    ];

    public static Command Create()
    {
        var caseOption = new Option<string[]>("--case")
        {
            Description = $"sparse, storm, storm-long, storm-65536, all (those four), or {ReplicatesBench.Case} (run --seeds {ReplicatesBench.Seeds} farmed against " +
                          "the same runs one after another) (repeatable).",
            DefaultValueFactory = _ => ["sparse", "storm"],
            AllowMultipleArgumentsPerToken = true,
        };
        caseOption.AcceptOnlyFromAmong([.. Cases.Select(c => c.Case), "all", ReplicatesBench.Case]);
        var engineOption = new Option<string[]>("--engine")
        {
            Description = "grains, reference, parallel, or all (repeatable; default all).",
            DefaultValueFactory = _ => ["all"],
            AllowMultipleArgumentsPerToken = true,
        };
        engineOption.AcceptOnlyFromAmong([.. EngineNames.All, "all"]);
        var repeat = NumberOptions.Int("--repeat", "Runs per measurement (at least 1); the median is reported.", 3, 1, 1000);
        var cores = NumberOptions.Ints("--cores",
            "Pin each child to this many cores (a list, e.g. --cores 1 2); speedups are over the smallest. Default: every core, unpinned.",
            1, Environment.ProcessorCount, $"a core count this machine has (1-{Environment.ProcessorCount})");
        var silos = NumberOptions.Int("--silos", "Embedded silos for the grain engine (1-16).", 1, 1, 16);
        var partitions = NumberOptions.Int("--partitions", "Partitions for the grain and parallel engines (default 0: one per core of each silo, or of this process).", 0, 0, 4096);
        var scenarios = new Option<string?>("--scenarios") { Description = "The scenarios directory (default: found above the current directory)." };
        var tracing = new Option<string>("--tracing") { Description = "off, on (OTLP-JSON to a scratch directory) or both.", DefaultValueFactory = _ => "off" };
        tracing.AcceptOnlyFromAmong("off", "on", "both");
        var sample = NumberOptions.Double("--trace-sample", "The sampling ratio with tracing on, for kernel operations and engine windows alike.",
            TelemetryOptions.DefaultSampleRatio, 0, 1);
        var checkpointsOption = new Option<string>("--checkpoints")
        {
            Description = "Grain engine: off, on (a global checkpoint every --checkpoint-windows windows, in this process's store) or both.",
            DefaultValueFactory = _ => "off",
        };
        checkpointsOption.AcceptOnlyFromAmong("off", "on", "both");
        var checkpointWindows = NumberOptions.Int("--checkpoint-windows", "Windows between checkpoints with --checkpoints on.", 100, 1, int.MaxValue);
        var warmup = NumberOptions.Int("--warmup",
            "Runs of the same policy each child makes before the one it measures (default 0: the measured run is the process's first, compiling and touching its memory).",
            0, 0, 100);
        var single = new Option<string?>("--single") { Hidden = true };

        var command = new Command("bench", "Measure the engines on the sparse and storm scenarios, and how the parallel ones scale with cores.")
        {
            caseOption, engineOption, repeat, cores, silos, partitions, scenarios, tracing, sample, checkpointsOption, checkpointWindows, warmup, single,
        };
        command.SetAction(async (parse, cancellation) =>
        {
            var dir = parse.GetValue(scenarios) ?? ShippedScenarios.Find(Cases[0].File)
                      ?? throw new ScenarioException("scenarios", 0, 0, "--scenarios", "no scenarios directory found; pass --scenarios DIR");
            if (parse.GetValue(single) is { } one)
                return one.StartsWith(ReplicatesBench.Case + ":", StringComparison.Ordinal)
                    ? await ReplicatesBench.MeasureOnce(dir, one, parse.GetValue(silos), cancellation)
                    : await MeasureOnce(dir, Child.Parse(one), cancellation);
            var picked = parse.GetValue(caseOption)!;
            var cases = Cases.Where(c => picked.Contains("all") || picked.Contains(c.Case)).Select(c => c.Case).ToList();
            var named = parse.GetValue(engineOption)!;
            var engines = BenchOrder.Where(e => named.Contains("all") || named.Contains(e)).ToArray();
            var modes = parse.GetValue(tracing) is "both" ? new[] { "off", "on" } : [parse.GetValue(tracing)!];
            var every = parse.GetValue(checkpointWindows);
            var checkpointing = parse.GetValue(checkpointsOption) switch { "both" => new[] { 0, every }, "on" => [every], _ => [0] };
            var coreCounts = parse.GetValue(cores) is { Length: > 0 } list ? list.Distinct().Order().Select(c => (int?)c).ToList() : [null];
            var ratio = parse.GetValue(sample);
            Console.WriteLine(MachineDescription());
            foreach (var n in coreCounts.OfType<int>())
                Console.WriteLine($"{n} cores: CPUs {CpuList.Format(PinnedCpus(n))}");
            if (picked.Contains(ReplicatesBench.Case))
            {
                await ReplicatesBench.Run(dir, engines, parse.GetValue(repeat),
                    async (what, token) => await RunChildLine(dir, what, null, parse.GetValue(silos), token), cancellation);
                if (cases.Count == 0) return 0;
            }
            var measured = new List<(Child What, Sample Median, (double Least, double Most, int Runs) Spread, long PeakBytes, long Dropped)>();
            foreach (var name in cases)
            {
                foreach (var pinned in coreCounts)
                {
                    // Engines, tracing and checkpoint modes alternate run by run, so that drift in the machine's speed hits all alike.
                    var children = engines.SelectMany(e => modes.SelectMany(m => (e == "grains" ? checkpointing : [0]).Select(k =>
                        new Child(name, e, m == "on", ratio, pinned, parse.GetValue(silos), parse.GetValue(partitions), k, parse.GetValue(warmup))))).ToList();
                    var samples = children.ToDictionary(c => c, _ => new List<Sample>());
                    for (var i = 0; i < parse.GetValue(repeat); i++)
                    {
                        foreach (var child in children)
                        {
                            var s = await RunChild(dir, child, cancellation);
                            samples[child].Add(s);
                            Console.WriteLine($"  {child.Label} run {i + 1}: {s.WallSeconds:0.00} s ({s.CpuSeconds:0.00} CPU s, {s.JitSeconds:0.00} compiling, {s.GcPauseSeconds:0.00} in GC pauses), " +
                                              $"{s.EventsPerSecond / 1e6:0.00} M events/s, {s.IpisPerSecond / 1e6:0.000} M IPIs/s, {s.CallsPerIpi:0.000} calls/IPI, {N(s.Windows)} windows, " +
                                              $"{(s.MinorFaults is { } faults ? $"{N(faults)} minor faults, " : "")}peak {s.PeakBytes / 1048576.0:0} MiB");
                        }
                    }
                    foreach (var child in children)
                    {
                        var runs = samples[child].OrderBy(s => s.WallSeconds).ToList();
                        measured.Add((child, runs[runs.Count / 2], (runs[0].WallSeconds, runs[^1].WallSeconds, runs.Count),
                            runs.Max(s => s.PeakBytes), runs.Max(s => s.Dropped)));
                    }
                }
            }
            // Plain Markdown, whatever the terminal width, so it pastes into docs/performance.md as is.
            Console.WriteLine("| case | engine | cores | silos | partitions | tracing | checkpoints | warm-up runs | IPIs delivered | engine s (median) | engine s range (runs) | CPU s | JIT s | GC pause s | × reference | CPU × reference | speedup over fewest cores | M events/s | grain calls / IPI | windows | events / window | parallelism bound | minor faults | peak MiB | spans | dropped |");
            Console.WriteLine("|---|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var (what, median, spread, peak, dropped) in measured)
            {
                var reference = measured.FirstOrDefault(m => m.What == what with { Engine = "reference", CheckpointWindows = 0 });
                var fewest = measured.First(m => m.What == what with { Cores = coreCounts[0] });
                var grains = what.Engine == "grains";
                var windowed = what.Engine != "reference";
                string[] row =
                [
                    what.Case, what.Engine, what.Cores?.ToString(CultureInfo.InvariantCulture) ?? $"all ({Environment.ProcessorCount})",
                    grains ? what.Silos.ToString(CultureInfo.InvariantCulture) : "",
                    windowed ? median.Partitions.ToString(CultureInfo.InvariantCulture) : "",
                    what.Traced ? $"on, {F(what.SampleRatio, "0.##")}" : "off",
                    what.CheckpointWindows > 0 ? $"{N(median.Windows / what.CheckpointWindows)}, every {N(what.CheckpointWindows)} windows" : grains ? "off" : "",
                    what.Warmup.ToString(CultureInfo.InvariantCulture),
                    N(median.Ipis), F(median.WallSeconds, "0.00"), $"{F(spread.Least, "0.00")}–{F(spread.Most, "0.00")} ({spread.Runs})",
                    F(median.CpuSeconds, "0.00"), F(median.JitSeconds, "0.00"), F(median.GcPauseSeconds, "0.00"),
                    reference.Median is { } r ? F(median.WallSeconds / r.WallSeconds, "0.00") : "",
                    reference.Median is { } rc ? F(median.CpuSeconds / rc.CpuSeconds, "0.00") : "",
                    coreCounts.Count > 1 ? F(fewest.Median.WallSeconds / median.WallSeconds, "0.00") : "",
                    F(median.EventsPerSecond / 1e6, "0.00"),
                    grains ? F(median.CallsPerIpi, "0.000") : "",
                    windowed ? N(median.Windows) : "",
                    windowed && median.Windows > 0 ? F((double)median.Events / median.Windows, "0.0") : "",
                    windowed && median.SpanEvents > 0 ? F((double)median.Events / median.SpanEvents, "0.00") : "",
                    median.MinorFaults is { } faults ? N(faults) : "", F(peak / 1048576.0, "0"), N(median.Spans), N(dropped),
                ];
                Console.WriteLine($"| {string.Join(" | ", row)} |");
            }
            return 0;
        });
        return command;
    }

    /// <summary>One measurement: what a child process runs, and how it is pinned.</summary>
    private sealed record Child(string Case, string Engine, bool Traced, double SampleRatio, int? Cores, int Silos, int Partitions, int CheckpointWindows, int Warmup)
    {
        public string Label => $"{Case} {Engine}{(Cores is { } c ? $" {c} cores" : "")}{(Engine == "grains" ? $" {Silos} silos" : "")} tracing {(Traced ? "on" : "off")}" +
                               (CheckpointWindows > 0 ? $" checkpoints every {CheckpointWindows} windows" : "") +
                               (Warmup > 0 ? $" after {Warmup} warm-up {(Warmup == 1 ? "run" : "runs")}" : "");

        public override string ToString() =>
            string.Join(':', Case, Engine, Traced ? "on" : "off", SampleRatio.ToString(CultureInfo.InvariantCulture), Cores?.ToString(CultureInfo.InvariantCulture) ?? "all",
                Silos.ToString(CultureInfo.InvariantCulture), Partitions.ToString(CultureInfo.InvariantCulture), CheckpointWindows.ToString(CultureInfo.InvariantCulture),
                Warmup.ToString(CultureInfo.InvariantCulture));

        public static Child Parse(string s)
        {
            var p = s.Split(':');
            return new Child(p[0], p[1], p[2] == "on", double.Parse(p[3], CultureInfo.InvariantCulture), p[4] == "all" ? null : int.Parse(p[4], CultureInfo.InvariantCulture),
                int.Parse(p[5], CultureInfo.InvariantCulture), int.Parse(p[6], CultureInfo.InvariantCulture), int.Parse(p[7], CultureInfo.InvariantCulture),
                int.Parse(p[8], CultureInfo.InvariantCulture));
        }
    }

    /// <summary>
    /// What one child measured; <see cref="CpuSeconds"/> is the user and system time the process
    /// spent over the same stretch as <see cref="WallSeconds"/>, and <see cref="JitSeconds"/> the
    /// part of it the runtime spent compiling, on any thread (tier-0 code on first calls, and
    /// the optimised recompiles of hot methods): a fixed cost per process, not per event.
    /// <see cref="GcPauseSeconds"/> is how long the collector held the process's threads over that
    /// stretch (its background marking is not in it), and <see cref="MinorFaults"/> how many pages
    /// the process touched for the first time (or had mapped back) there, where Linux says
    /// (<c>/proc/self/stat</c>): what a run pays for the memory it first touches, microseconds a
    /// page on a virtual machine, which a process pays once and the engines need in different amounts.
    /// </summary>
    private sealed record Sample(long Ipis, double WallSeconds, double CpuSeconds, double JitSeconds, double GcPauseSeconds, long? MinorFaults, long PeakBytes, long Events, long Windows, long GrainCalls, int Partitions, long Spans, long Dropped, long SpanEvents)
    {
        public double IpisPerSecond => Ipis / WallSeconds;
        public double EventsPerSecond => Events / WallSeconds;
        public double CallsPerIpi => Ipis == 0 ? 0 : (double)GrainCalls / Ipis;
    }

    private static async Task<Sample> RunChild(string dir, Child child, CancellationToken cancellation) =>
        JsonSerializer.Deserialize<Sample>(await RunChildLine(dir, child.ToString(), child.Cores, child.Silos, cancellation, child.Label))!;

    /// <summary>Runs <c>bench --single WHAT</c> in a child process (pinned to <paramref name="cores"/> cores) and returns its last line.</summary>
    private static async Task<string> RunChildLine(string dir, string what, int? cores, int silos, CancellationToken cancellation, string? label = null)
    {
        var self = SelfCommand.Argv;
        // taskset sets the affinity before the runtime starts, so Environment.ProcessorCount, the
        // thread pool, Server GC's heaps and the default partition count all follow it.
        var argv = cores is { } n ? ["taskset", "--cpu-list", CpuList.Format(PinnedCpus(n)), .. self] : self;
        var psi = new ProcessStartInfo(argv[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        // A process that sees one CPU waits ten times longer (1 s, re-armed by every new method
        // compiled) before it moves hot code to tier 1: the one-core reference storm took 5.85 s
        // against 3.70 s without it. That is the runtime's start-up heuristic, not an engine, so
        // every engine's child runs without it (docs/performance.md, "Tiered compilation").
        psi.Environment["DOTNET_TC_DelaySingleProcMultiplier"] = "1";
        foreach (var a in argv.Skip(1).Concat(["bench", "--scenarios", dir, "--silos", silos.ToString(CultureInfo.InvariantCulture), "--single", what]))
            psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEndAsync(cancellation);
        var error = process.StandardError.ReadToEndAsync(cancellation);
        await process.WaitForExitAsync(cancellation);
        if (process.ExitCode != 0) throw new InvalidOperationException($"bench {label ?? what} failed: {(await error).Trim()}");
        return (await output).Trim().Split('\n')[^1];
    }

    /// <summary>
    /// In the child: run the baseline policy once and print one JSON line. The engine seconds run
    /// from the start of the run (the cluster is already up) to the end of the pipeline's flush:
    /// exporting is part of what tracing costs.
    /// </summary>
    private static async Task<int> MeasureOnce(string dir, Child what, CancellationToken cancellation)
    {
        var tracing = RunTracing.New(what.SampleRatio);
        var scenario = ScenarioLoader.LoadFile(Path.Combine(dir, Cases.First(c => c.Case == what.Case).File));
        var scratch = what.Traced ? Directory.CreateTempSubdirectory("shootdown-bench-").FullName : null;
        try
        {
            // Before the cluster: a traced run's silos carry grain-call spans only where something listens as they start.
            var pipeline = TelemetryPipeline.Start(what.Traced ? new TelemetryOptions { FileDirectory = scratch, SampleRatio = tracing.SampleRatio, EngineSampleRatio = tracing.SampleRatio } : TelemetryOptions.Disabled);
            await using var cluster = what.Engine == "grains" ? await EmbeddedCluster.StartAsync(what.Silos, cancellation) : null;
            async Task<PolicyRun> Run() => cluster is null
                ? InProcessRuns.Run(scenario, KernelPolicy.Baseline, what.Engine == "parallel" ? what.Partitions > 0 ? what.Partitions : Environment.ProcessorCount : 0,
                    cancellation: cancellation, tracing: tracing)
                : await ShootdownRunner.RunPolicyOnGrainsAsync(scenario, KernelPolicy.Baseline, cluster.GrainFactory, cancellation: cancellation, tracing: tracing, options: new(Partitions: what.Partitions,
                    Checkpoints: what.CheckpointWindows > 0 ? new Grains.CheckpointPolicy(what.CheckpointWindows, 0) : null));
            // Warm-up runs leave the process as a long-lived one is: its hot code compiled, its memory
            // touched once, its grains' classes loaded. Traced, their spans are exported and counted too.
            for (var i = 0; i < what.Warmup; i++) await Run();
            var self = Process.GetCurrentProcess();
            var cpuBefore = self.TotalProcessorTime;
            var jitBefore = JitInfo.GetCompilationTime();
            var pausedBefore = GC.GetTotalPauseDuration();
            var faultsBefore = MinorFaults();
            var clock = Stopwatch.StartNew();
            var run = await Run();
            var summary = pipeline?.Shutdown();
            var wall = clock.Elapsed.TotalSeconds;
            self.Refresh();
            var cpu = (self.TotalProcessorTime - cpuBefore).TotalSeconds;
            var jit = (JitInfo.GetCompilationTime() - jitBefore).TotalSeconds;
            var paused = (GC.GetTotalPauseDuration() - pausedBefore).TotalSeconds;
            var faults = MinorFaults() - faultsBefore;
            pipeline?.Dispose();
            Console.WriteLine(JsonSerializer.Serialize(new Sample(run.Ipis, wall, cpu, jit, paused, faults, self.PeakWorkingSet64, run.Result.EventsProcessed,
                run.Engine?.Windows ?? 0, run.Engine?.GrainCalls ?? 0, run.Engine?.Partitions ?? 0, summary?.Spans ?? 0, summary?.Dropped ?? 0,
                run.Engine?.SpanEvents ?? 0)));
            return 0;
        }
        finally
        {
            if (scratch is not null) Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>
    /// The minor page faults of this process so far, every thread's (field 10 of
    /// <c>/proc/self/stat</c>, counted after the command name, which may hold spaces), or null
    /// where there is no such file.
    /// </summary>
    private static long? MinorFaults()
    {
        if (!File.Exists("/proc/self/stat")) return null;
        var stat = File.ReadAllText("/proc/self/stat");
        return long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[7], CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The CPUs a child pinned to <paramref name="cores"/> cores runs on: taken from the CPUs this
    /// process may use (a container's cpuset need not start at CPU 0), one hardware thread per
    /// physical core before any core's second thread, so that "4 cores" is four cores and not two
    /// cores' SMT siblings.
    /// </summary>
    internal static int[] PinnedCpus(int cores)
    {
        var allowedLine = File.Exists("/proc/self/status")
            ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))
            : null;
        var allowed = allowedLine is null ? Enumerable.Range(0, Environment.ProcessorCount).ToArray() : CpuList.Parse(allowedLine.Split(':', 2)[1].Trim(), int.MaxValue);
        // The sysfs topology names each CPU's package and core; without it every CPU counts as its own core.
        return PinnedCpus(cores, allowed, cpu =>
        {
            var dir = $"/sys/devices/system/cpu/cpu{cpu}/topology";
            return File.Exists($"{dir}/core_id") && File.Exists($"{dir}/physical_package_id")
                ? $"{File.ReadAllText($"{dir}/physical_package_id").Trim()}:{File.ReadAllText($"{dir}/core_id").Trim()}"
                : $"cpu{cpu}";
        });
    }

    /// <summary>The first <paramref name="cores"/> of <paramref name="allowed"/>, every core's first thread before any second one; <paramref name="coreOf"/> names a CPU's core.</summary>
    internal static int[] PinnedCpus(int cores, IEnumerable<int> allowed, Func<int, string> coreOf)
    {
        var threadsSeen = new Dictionary<string, int>();
        var byThread = allowed.Order().Select(cpu =>
        {
            var core = coreOf(cpu);
            var thread = threadsSeen.GetValueOrDefault(core);
            threadsSeen[core] = thread + 1;
            return (Cpu: cpu, Thread: thread);
        }).ToList();
        return [.. byThread.OrderBy(t => t.Thread).ThenBy(t => t.Cpu).Take(cores).Select(t => t.Cpu).Order()];
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

    /// <summary>The order engines are measured and listed in: the oracle first, as every ratio's reference.</summary>
    private static readonly string[] BenchOrder = ["reference", "parallel", "grains"];

    private static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
    private static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
}
