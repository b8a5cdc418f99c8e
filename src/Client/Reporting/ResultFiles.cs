using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Shootdown.Client.Running;
using Shootdown.Model.Results;

namespace Shootdown.Client.Reporting;

/// <summary>results.json: the comparison with every per-CPU counter and operation, and each policy's digest.</summary>
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
        machine = new { spec = c.Scenario.Machine.Name, cpus = c.Scenario.Machine.CpuCount, packages = c.Scenario.Machine.PackageCount, numa_nodes = c.Scenario.Machine.NodeCount },
        seed = c.Scenario.Seed,
        duration_ns = c.Scenario.DurationNs,
        engine = c.Engine,
        silos = c.Silos,
        headline = Headline.For(c),
        policies = c.Runs.Select(r => Policy(r.Result)),
        engine_stats = c.Runs.Select(r => new { policy = r.Result.Policy, wall_seconds = r.Wall.TotalSeconds, windows = r.Windows, grain_calls = r.GrainCalls }),
    }, Options);

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
        operations = r.ByType,
        cpus = r.Cpus,
        ops = r.Ops,
    };

    /// <summary>Why result files cannot be written into <paramref name="dir"/>, or null if they can.</summary>
    public static string? CannotWriteInto(string dir)
    {
        try
        {
            Directory.CreateDirectory(dir);
            var probe = Path.Combine(dir, $".shootdown-probe.{Environment.ProcessId}.tmp");
            File.WriteAllText(probe, "");
            File.Delete(probe);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return e.Message;
        }
    }

    /// <summary>Writes a file so that readers see the old one or the whole new one, never a half.</summary>
    public static void WriteAtomically(string path, string content)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        File.WriteAllText(temp, content, new UTF8Encoding(false));
        File.Move(temp, path, overwrite: true);
    }
}
