using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Shootdown.Analysis.Runs;
using Shootdown.Model.Results;
using Shootdown.Model.Statistics;

namespace Shootdown.Analysis.Reporting;

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
    private static readonly JsonSerializerOptions Options = UserNames.IndentedJson;

    /// <summary>
    /// results.json: provenance, the summary of every headline figure over the replicates (n,
    /// median, interval) with the pooled latency percentiles, then each replicate's policies in
    /// full; a plain run (one replicate) keeps them at the top level, as format 1 did.
    /// </summary>
    public static string ToJson(ReplicateSet set, Provenance provenance, SweepPosition? sweep = null) => JsonSerializer.Serialize(Document(set, provenance, sweep), Options);

    /// <summary>The swept values of one sweep point, recorded with its results.</summary>
    public sealed record SweepPosition(int Point, IReadOnlyList<string> Parameters, IReadOnlyList<string> Values);

    private static Dictionary<string, object?> Document(ReplicateSet set, Provenance provenance, SweepPosition? sweep)
    {
        var c = set.First;
        var doc = new Dictionary<string, object?>
        {
            ["format_version"] = Provenance.FormatVersion,
            ["tool"] = new { name = "shootdown", version = Provenance.Version, commit = Provenance.Commit },
            ["command_line"] = provenance.CommandLine,
            ["overrides"] = provenance.Overrides.Select(o => o.ToString()),
            ["scenario"] = set.Scenario.Name,
            ["scenario_sha256"] = Provenance.DefinitionHash(set.Scenario),
            ["machine"] = new { name = c.Scenario.Machine.Name, cpus = c.Scenario.Machine.CpuCount, packages = c.Scenario.Machine.PackageCount, numa_nodes = c.Scenario.Machine.NodeCount },
            ["seed"] = set.Scenario.Seed,
            ["seeds"] = set.Seeds,
            ["duration_ns"] = set.Scenario.DurationNs,
        };
        if (sweep is not null)
            doc["sweep"] = new { point = sweep.Point + 1, values = sweep.Parameters.Zip(sweep.Values).ToDictionary(p => p.First, p => p.Second) };
        doc["engine"] = c.Engine;
        doc["silos"] = c.Silos;
        doc["run_id"] = c.RunId;
        doc["headline"] = Headline.For(set);
        doc["summary"] = new
        {
            replicates = set.Count,
            statistic = set.Count == 1 ? "the value of one run"
                : set.Count >= MedianEstimate.MinReplicatesForInterval
                    ? "median over replicates; low and high bound a distribution-free (order-statistic) confidence interval for the median whose exact coverage is given, at least 0.95"
                    : $"median over replicates; low and high are the range (fewer than {MedianEstimate.MinReplicatesForInterval} replicates give no 95 % interval; coverage is the range's)",
            percentiles = $"nearest rank, pooled over every replicate's operations; null where the samples cannot support it (p50 from {Percentiles.MinSamples(0.5)}, p99 from {Percentiles.MinSamples(0.99)})",
            policies = set.Policies.Select((policy, p) => new
            {
                policy,
                figures = Figures.All(set).ToDictionary(f => f.Key, f => f.Over(set, p) is { } e
                    ? (object)new { median = e.Median, low = e.Low, high = e.High, n = e.N, coverage = e.N == 1 ? (double?)null : e.Coverage }
                    : null),
                latency = Figures.OperationTypes(set).Select(t => PooledLatency.Of(set, p, t)).OfType<PooledLatency>()
                    .Select(l => new { operation = Headline.OperationName(l.Type), n = l.N, p50_ns = l.P50Ns, p99_ns = l.P99Ns, max_ns = l.MaxNs }),
                time = TimeJson(set, p),
            }),
        };
        if (set.Count == 1)
        {
            doc["policies"] = c.Runs.Select(r => Policy(r.Result));
            doc["engine_stats"] = c.Runs.Select(EngineStatsJson);
        }
        else
        {
            doc["replicates"] = set.Replicates.Select(r => new
            {
                seed = r.Scenario.Seed,
                policies = r.Runs.Select(run => Policy(run.Result)),
                engine_stats = r.Runs.Select(EngineStatsJson),
            });
        }
        return doc;
    }

    /// <summary>
    /// Where the time goes (<see cref="TimeBreakdown"/>): per operation type, the mean latency and
    /// its parts in ns per operation; for all CPUs and for the real-time ones, the idle exits,
    /// interrupt entry and exit, and handlers, in ns per run (their sums over CPUs, averaged over replicates).
    /// </summary>
    private static object TimeJson(ReplicateSet set, int policy)
    {
        static Dictionary<string, object> Parts(string[] keys, double[] ns) => keys.Zip(ns).ToDictionary(k => k.First, k => (object)k.Second);
        var operations = Figures.OperationTypes(set).Select(t => TimeBreakdown.Of(set, policy, t)).OfType<TimeBreakdown.Operation>().Select(o =>
        {
            var d = Parts(TimeBreakdown.OperationKeys, o.PartsNs);
            d["operation"] = Headline.OperationName(o.Type);
            d["n"] = o.N;
            d["mean_latency_ns"] = o.MeanLatencyNs;
            return d;
        });
        var rt = set.Scenario.Workload.RealtimeCpus;
        return new
        {
            operations,
            targets = Parts(TimeBreakdown.TargetKeys, TimeBreakdown.OfTargets(set, policy).PartsNs),
            realtime = rt.Length == 0 ? null : Parts(TimeBreakdown.TargetKeys, TimeBreakdown.OfTargets(set, policy, rt).PartsNs),
        };
    }

    /// <summary>
    /// summary.csv: one row per policy and figure (n, median, interval and its coverage), then the
    /// pooled latency percentiles (n, the value as median, no interval; empty where unsupported).
    /// </summary>
    public static string SummaryCsv(ReplicateSet set)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var sb = new StringBuilder("policy,figure,n,median,low,high,coverage\n");
        for (var p = 0; p < set.Policies.Count; p++)
        {
            foreach (var f in Figures.All(set))
            {
                if (f.Over(set, p) is not { } e) continue;
                sb.Append(inv, $"{set.Policies[p]},{f.Key},{e.N},{e.Median:R},{e.Low:R},{e.High:R},{(e.N == 1 ? "" : e.Coverage.ToString("0.0000", inv))}\n");
            }
            foreach (var t in Figures.OperationTypes(set))
            {
                if (PooledLatency.Of(set, p, t) is not { } l) continue;
                foreach (var (name, ns) in new[] { ("p50", l.P50Ns), ("p99", l.P99Ns), ("max", (long?)l.MaxNs) })
                    sb.Append(inv, $"{set.Policies[p]},{Headline.OperationName(t)}.latency_{name}_us,{l.N},{(ns is { } v ? (v / 1000.0).ToString("R", inv) : "")},,,\n");
            }
        }
        return sb.ToString();
    }

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
        checkpoints_skipped = r.Engine?.CheckpointsSkipped,
        windows = r.Engine?.Windows,
        events_per_window = r.Engine is { Windows: > 0 } e ? (double)r.Result.EventsProcessed / e.Windows : (double?)null,
        span_events = r.Engine?.SpanEvents,
        parallelism_bound = r.Engine?.ParallelismBound(r.Result.EventsProcessed),
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
        csds_queued = r.CsdsQueued,
        ipis_received = r.IpisReceived,
        total_interrupts = r.TotalInterrupts,
        collateral_ipis = r.CollateralIpis,
        realtime = r.Realtime,
        safety = r.Safety,
        operations = r.ByType,
        cpus = r.Cpus,
        ops = r.Ops,
    };

    /// <summary>
    /// Every file of one set, by name: results.json and summary.csv, then for each replicate its
    /// per-CPU and per-policy files, in <c>seed-S/</c> when there are several.
    /// </summary>
    public static IEnumerable<(string Name, string Content)> Render(ReplicateSet set, Provenance provenance, SweepPosition? sweep = null)
    {
        yield return ("results.json", ToJson(set, provenance, sweep));
        yield return ("summary.csv", SummaryCsv(set));
        foreach (var c in set.Replicates)
        {
            var dir = set.Count == 1 ? "" : $"seed-{c.Scenario.Seed}/";
            yield return ($"{dir}cpus.csv", CpuCsv.Render(c));
            var rt = c.Scenario.Workload.RealtimeCpus.Order().ToList();
            foreach (var run in c.Runs)
            {
                yield return ($"{dir}interrupts-{run.Result.Policy}.txt", ProcInterrupts.Render(c.Scenario.Machine, run.Result));
                if (rt.Count > 0)
                    yield return ($"{dir}osnoise-{run.Result.Policy}.txt",
                        OsnoiseTop.Render(c.Scenario.Machine, run.Result, rt, c.Scenario.DurationNs, c.Scenario.Workload.OsnoisePeriodNs));
            }
        }
    }

    /// <summary>A plain run's files.</summary>
    public static IEnumerable<(string Name, string Content)> Render(Comparison c) => Render(ReplicateSet.Of(c), Provenance.InProcess);

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
    /// sweep's files under a single run's, a single run's beside a sweep's, or replicates
    /// (<c>seed-S</c>) of seeds this run does not have (<paramref name="seedDirs"/>: those it
    /// writes, none for a plain run). Null if there are none.
    /// </summary>
    public static string? StaleResults(string dir, int sweepPoints, IReadOnlySet<string> seedDirs)
    {
        var full = Path.GetFullPath(dir);
        if (!Directory.Exists(full)) return null;
        var points = Directory.GetDirectories(full, "point-*").Select(Path.GetFileName).Where(n => n!.Length > 6 && n[6..].All(char.IsAsciiDigit)).Order().ToList();
        var strangers = (sweepPoints > 0 ? points.Select(p => Path.Combine(full, p!)) : [full])
            .SelectMany(d => Directory.GetDirectories(d, "seed-*")).Where(d => !seedDirs.Contains(Path.GetFileName(d))).ToList();
        if (strangers.Count > 0)
            return $"holds {Path.GetRelativePath(full, strangers[0])} from an earlier run of other seeds; give an empty or new directory";
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
