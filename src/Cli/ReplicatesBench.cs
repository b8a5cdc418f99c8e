using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Shootdown.Analysis.Runs;
using Shootdown.Client.Running;
using Shootdown.Scenarios;

namespace Shootdown.Cli;

/// <summary>
/// <c>bench --case replicates</c>: <c>run scenarios/khugepaged-4096.yaml --seeds 8</c> both ways
/// in one invocation, each in a fresh child process: the 8 replicates one after another, and
/// farmed side by side (as <c>--seeds</c> runs them), on each engine. Reports wall and CPU seconds
/// (medians over --repeat), the farm's speedup over the sequential runs of the same engine, and
/// whether both ways gave the same digests.
/// </summary>
internal static class ReplicatesBench
{
    public const string Case = "replicates";
    private const string File = "khugepaged-4096.yaml";
    public const int Seeds = 8;

    private sealed record Sample(double WallSeconds, double CpuSeconds, long PeakBytes, string Digests);

    public static async Task<int> Run(string dir, IReadOnlyList<string> engines, int repeat, Func<string, CancellationToken, Task<string>> runChild,
        CancellationToken cancellation)
    {
        var ways = engines.SelectMany(e => new[] { $"{e}:sequential", $"{e}:farmed" }).ToList();
        var samples = ways.ToDictionary(w => w, _ => new List<Sample>());
        for (var i = 0; i < repeat; i++)
        {
            // Alternated run by run, so that drift in the machine's speed hits every way alike.
            foreach (var way in ways)
            {
                var s = JsonSerializer.Deserialize<Sample>(await runChild($"{Case}:{way}", cancellation))!;
                samples[way].Add(s);
                Console.WriteLine($"  {Case} {way.Replace(':', ' ')} run {i + 1}: {s.WallSeconds:0.00} s wall, {s.CpuSeconds:0.00} s CPU, peak {s.PeakBytes / 1048576.0:0} MiB");
            }
        }
        Console.WriteLine($"| case | engine | replicates | way | wall s (median) | CPU s (median) | speedup over sequential | peak MiB | digests as sequential |");
        Console.WriteLine("|---|---|---:|---|---:|---:|---:|---:|---|");
        foreach (var way in ways)
        {
            var (engine, mode) = (way.Split(':')[0], way.Split(':')[1]);
            var median = Median(samples[way]);
            var sequential = Median(samples[$"{engine}:sequential"]);
            var same = samples[way].All(s => s.Digests == samples[$"{engine}:sequential"][0].Digests) ? "yes" : "NO";
            Console.WriteLine($"| {Case} ({File}) | {engine} | {Seeds} | {mode} | {F(median.WallSeconds)} | {F(median.CpuSeconds)} | " +
                              $"{F(sequential.WallSeconds / median.WallSeconds)} | {samples[way].Max(s => s.PeakBytes) / 1048576.0:0} | {same} |");
        }
        return 0;
    }

    /// <summary>In the child: the replicates of one engine, one way; one JSON line.</summary>
    public static async Task<int> MeasureOnce(string dir, string what, int silos, CancellationToken cancellation)
    {
        var parts = what.Split(':');
        var engine = EngineNames.Parse(parts[1]);
        var farmed = parts[2] == "farmed";
        var file = ScenarioLoader.Load(Path.Combine(dir, File));
        var scenarios = ReplicateSet.Expand(file, Seeds);
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var results = await ShootdownRunner.RunAllAsync(scenarios, engine, silos, cancellation: cancellation, options: new GrainEngineOptions(Farm: farmed));
        var wall = clock.Elapsed.TotalSeconds;
        process.Refresh();
        var digests = string.Join(",", results.SelectMany(c => c.Runs.Select(r => r.Result.Digest[..16])));
        Console.WriteLine(JsonSerializer.Serialize(new Sample(wall, (process.TotalProcessorTime - cpu).TotalSeconds, process.PeakWorkingSet64, digests)));
        return 0;
    }

    private static Sample Median(List<Sample> runs) => runs.OrderBy(s => s.WallSeconds).ElementAt(runs.Count / 2);

    private static string F(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);
}
