using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Shootdown.Client.Running;
using Shootdown.Model.Results;

namespace Shootdown.Client.Reporting;

/// <summary>
/// The files a run leaves in <c>--out DIR</c>:
/// <list type="bullet">
/// <item><c>results.json</c>: the comparison with every per-CPU counter and operation, and each policy's digest;</item>
/// <item><c>cpus.csv</c>: per-CPU counters, one row per policy and CPU;</item>
/// <item><c>interrupts-POLICY.txt</c>: /proc/interrupts at the end of the run;</item>
/// <item><c>osnoise-POLICY.txt</c>: rtla osnoise top for the real-time CPUs (when the scenario has some).</item>
/// </list>
/// All are written to a staging directory first and moved in only once every one is complete,
/// each by an atomic rename: a reader never sees half a file, and a failed run leaves none.
/// </summary>
public static class ResultFiles
{
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static string ToJson(Comparison c) => JsonSerializer.Serialize(new
    {
        scenario = c.Scenario.Name,
        machine = new { name = c.Scenario.Machine.Name, cpus = c.Scenario.Machine.CpuCount, packages = c.Scenario.Machine.PackageCount, numa_nodes = c.Scenario.Machine.NodeCount },
        seed = c.Scenario.Seed,
        duration_ns = c.Scenario.DurationNs,
        engine = c.Engine,
        silos = c.Silos,
        run_id = c.RunId,
        headline = Headline.For(c),
        policies = c.Runs.Select(r => Policy(r.Result)),
        engine_stats = c.Runs.Select(EngineStatsJson),
    }, Options);

    /// <summary>What computing a policy cost; on grains, every grain call the engine made, by who made it.</summary>
    private static object EngineStatsJson(PolicyRun r) => new
    {
        policy = r.Result.Policy,
        wall_seconds = r.Wall.TotalSeconds,
        events = r.Result.EventsProcessed,
        ipis = r.Ipis,
        silos = r.Engine?.Silos,
        partitions = r.Engine?.Partitions,
        coordinator = r.Placement?.Coordinator,
        partition_silos = r.Placement?.PartitionSilos.ToArray(),
        recoveries = r.Engine is null ? null : r.Recoveries.IsDefault ? Array.Empty<string>() : r.Recoveries.ToArray(),
        windows = r.Engine?.Windows,
        events_per_window = r.Engine is { Windows: > 0 } e ? (double)r.Result.EventsProcessed / e.Windows : (double?)null,
        grain_calls = r.Engine?.GrainCalls,
        coordinator_calls = r.Engine?.CoordinatorCalls,
        entity_calls = r.Engine?.EntityCalls,
        batch_calls = r.Engine?.BatchCalls,
        grain_calls_per_ipi = r.Engine is { } g && r.Ipis > 0 ? (double)g.GrainCalls / r.Ipis : (double?)null,
    };

    private static object Policy(PolicyResult r) => new
    {
        policy = r.Policy,
        digest = r.Digest,
        end_ns = r.EndNs,
        events = r.EventsProcessed,
        total_ipis = r.TotalIpis,
        total_interrupts = r.TotalInterrupts,
        collateral_ipis = r.CollateralIpis,
        realtime = r.Realtime,
        safety = r.Safety,
        operations = r.ByType,
        cpus = r.Cpus,
        ops = r.Ops,
    };

    /// <summary>Every file of one comparison, by name.</summary>
    public static IEnumerable<(string Name, string Content)> Render(Comparison c)
    {
        yield return ("results.json", ToJson(c));
        yield return ("cpus.csv", CpuCsv.Render(c));
        var rt = c.Scenario.Workload.RealtimeCpus.Order().ToList();
        foreach (var run in c.Runs)
        {
            yield return ($"interrupts-{run.Result.Policy}.txt", ProcInterrupts.Render(c.Scenario.Machine, run.Result));
            if (rt.Count > 0)
                yield return ($"osnoise-{run.Result.Policy}.txt",
                    OsnoiseTop.Render(c.Scenario.Machine, run.Result, rt, c.Scenario.DurationNs, c.Scenario.Workload.OsnoisePeriodNs));
        }
    }

    /// <summary>Writes <paramref name="files"/> (names may hold one subdirectory level) into <paramref name="dir"/>, all or nothing until the final renames.</summary>
    public static void WriteAll(string dir, IEnumerable<(string Name, string Content)> files)
    {
        var full = Path.GetFullPath(dir);
        Directory.CreateDirectory(full);
        var staging = Path.Combine(full, $".shootdown-staging.{Environment.ProcessId}");
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        Directory.CreateDirectory(staging);
        try
        {
            var written = new List<string>();
            foreach (var (name, content) in files)
            {
                var path = Path.Combine(staging, name);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.WriteAllText(path, content, new UTF8Encoding(false));
                written.Add(name);
            }
            foreach (var name in written)
            {
                var target = Path.Combine(full, name);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Move(Path.Combine(staging, name), target, overwrite: true);
            }
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>
    /// Why result files cannot be written into <paramref name="dir"/>, or null if they can. Asked
    /// before a run, so it creates nothing: a run refused for another reason, or one that fails,
    /// leaves no empty directory behind. A directory that does not exist yet is judged by the
    /// nearest one above it that does, which must be a writable directory.
    /// </summary>
    public static string? CannotWriteInto(string dir)
    {
        try
        {
            var full = Path.GetFullPath(dir);
            if (File.Exists(full)) return "is a file, not a directory";
            var existing = full;
            while (!Directory.Exists(existing))
            {
                var parent = Path.GetDirectoryName(existing);
                if (parent is null) return "no directory above it exists";
                if (File.Exists(parent)) return $"{parent} is a file, not a directory";
                existing = parent;
            }
            var probe = Path.Combine(existing, $".shootdown-probe.{Environment.ProcessId}.tmp");
            File.WriteAllText(probe, "");
            File.Delete(probe);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// Results of an earlier run in <paramref name="dir"/> that this run would not overwrite, and
    /// that would be read as this run's: point directories beyond this sweep's last point, a
    /// sweep's files under a single run's, or a single run's beside a sweep's. Null if there are none.
    /// </summary>
    public static string? StaleResults(string dir, int sweepPoints)
    {
        var full = Path.GetFullPath(dir);
        if (!Directory.Exists(full)) return null;
        var points = Directory.GetDirectories(full, "point-*").Select(Path.GetFileName).Where(n => n!.Length > 6 && n[6..].All(char.IsAsciiDigit)).Order().ToList();
        if (sweepPoints > 0)
        {
            var beyond = points.Where(n => int.Parse(n![6..], System.Globalization.CultureInfo.InvariantCulture) > sweepPoints).ToList();
            if (beyond.Count > 0) return $"holds {string.Join(", ", beyond)} from an earlier sweep of more points; give an empty or new directory";
            if (File.Exists(Path.Combine(full, "results.json"))) return "holds results.json from an earlier single run; give an empty or new directory";
            return null;
        }
        if (points.Count > 0 || File.Exists(Path.Combine(full, "sweep.csv")))
            return "holds an earlier sweep's results (sweep.csv, point-NN); give an empty or new directory";
        return null;
    }
}
