using System.CommandLine;
using Shootdown.Analysis.Reporting;
using Shootdown.Analysis.Runs;

namespace Shootdown.Cli;

/// <summary>
/// Where <c>run</c> and <c>replay</c> write what a run gave: the result files (<c>--out</c>) and
/// the HTML report (<c>--report</c>), both checked before a possibly long run, so that a bad path
/// costs nothing and writes nothing, and both written atomically.
/// </summary>
internal sealed class OutputFlags
{
    public Option<string?> Out { get; } = new("--out")
    {
        Description = "Write results.json, cpus.csv, interrupts-POLICY.txt and osnoise-POLICY.txt into this directory " +
                      "(a sweep: sweep.csv and one point-NN directory per point), all written atomically.",
    };

    public Option<string?> Report { get; } = new("--report")
    {
        Description = "Write a self-contained HTML report (heatmaps, latency CDFs, noise and comparison tables) to this file.",
    };

    public IEnumerable<Option> All => [Out, Report];

    /// <summary>
    /// The line that refuses the paths given, before anything runs; <paramref name="stale"/> says
    /// why an existing <c>--out</c> directory would mix old results with new ones.
    /// </summary>
    public string? Problem(ParseResult parse, Func<string, string?>? stale = null)
    {
        if (parse.GetValue(Out) is { } target && (ResultFiles.CannotWriteInto(target) ?? stale?.Invoke(target)) is { } why)
            return $"--out {target}: {why}";
        if (parse.GetValue(Report) is { } html && ReportProblem(html) is { } problem)
            return $"--report {html}: {problem}";
        return null;
    }

    /// <summary>A run's (or its replicates') files and report, where asked for.</summary>
    public void Write(ParseResult parse, ReplicateSet result, Provenance provenance)
    {
        if (parse.GetValue(Out) is { } dir) ResultFiles.WriteAll(dir, ResultFiles.Render(result, provenance));
        if (parse.GetValue(Report) is { } path) WriteReport(path, HtmlReport.Render(result, provenance));
    }

    /// <summary>An HTML report, replacing an earlier one at <paramref name="path"/>.</summary>
    public static void WriteReport(string path, string html) =>
        ResultFiles.WriteAll(Path.GetDirectoryName(Path.GetFullPath(path))!, [(Path.GetFileName(path), html)]);

    /// <summary>
    /// Why the HTML report cannot go to <paramref name="path"/>. It replaces an earlier report,
    /// but nothing else: a directory, or a file that is not HTML (a scenario, say), is refused
    /// rather than overwritten.
    /// </summary>
    private static string? ReportProblem(string path)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) return "is a directory; give a file name";
        if (File.Exists(full) && Path.GetExtension(full).ToLowerInvariant() is not (".html" or ".htm"))
            return "exists and is not an HTML report; give a new file, or an .html path to replace";
        return ResultFiles.CannotWriteInto(Path.GetDirectoryName(full)!);
    }
}
