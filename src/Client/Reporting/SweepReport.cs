using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Shootdown.Client.Running;
using Shootdown.Model.Results;
using Shootdown.Scenarios;
using Spectre.Console;
using static Shootdown.Client.Reporting.Headline;

namespace Shootdown.Client.Reporting;

/// <summary>
/// One row per sweep point: the swept values, the machine size, and per policy the IPIs sent,
/// collateral IPIs, the key operation's p99 latency and the real-time CPUs' interrupts, then
/// the first policy's figures over the second's (baseline/patched in the usual order).
/// </summary>
public static class SweepReport
{
    public sealed record Row(ImmutableArray<string> Values, Comparison Comparison);

    public static IReadOnlyList<string> Columns(ScenarioFile file, IReadOnlyList<string> policies)
    {
        var columns = new List<string> { "point" };
        columns.AddRange(file.SweepParameters);
        columns.Add("cpus");
        foreach (var p in policies)
            columns.AddRange([$"{p}_ipis", $"{p}_collateral_ipis", $"{p}_p99_us", $"{p}_rt_interrupts"]);
        if (policies.Count >= 2) columns.AddRange([$"ipis_{policies[0]}_over_{policies[1]}", $"p99_{policies[0]}_over_{policies[1]}"]);
        return columns;
    }

    public static IReadOnlyList<string> Cells(int point, Row row)
    {
        var inv = CultureInfo.InvariantCulture;
        var results = row.Comparison.Runs.Select(r => r.Result).ToList();
        var cells = new List<string> { (point + 1).ToString(inv) };
        cells.AddRange(row.Values);
        cells.Add(row.Comparison.Scenario.Machine.CpuCount.ToString(inv));
        foreach (var r in results)
            cells.AddRange([r.TotalIpis.ToString(inv), r.CollateralIpis.ToString(inv), (KeyP99(r) / 1000.0).ToString("0.0", inv), r.Realtime.Interrupts.ToString(inv)]);
        if (results.Count >= 2)
            cells.AddRange([Ratio(results[0].TotalIpis, results[1].TotalIpis), Ratio(KeyP99(results[0]), KeyP99(results[1]))]);
        return cells;
    }

    public static string Csv(ScenarioFile file, IReadOnlyList<Row> rows)
    {
        var sb = new StringBuilder();
        sb.AppendJoin(',', Columns(file, Policies(rows)).Select(Quote)).Append('\n');
        for (var i = 0; i < rows.Count; i++) sb.AppendJoin(',', Cells(i, rows[i]).Select(Quote)).Append('\n');
        return sb.ToString();
    }

    public static void Write(IAnsiConsole console, ScenarioFile file, IReadOnlyList<Row> rows)
    {
        var first = rows[0].Comparison;
        console.MarkupLine($"[bold]{Markup.Escape(first.Scenario.Name)}[/]: sweep of {Markup.Escape(string.Join(", ", file.SweepParameters))}, " +
                           $"{rows.Count} points, engine {first.Engine.ToString().ToLowerInvariant()}");
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in Columns(file, Policies(rows))) table.AddColumn(new TableColumn(Markup.Escape(column)).RightAligned());
        for (var i = 0; i < rows.Count; i++) table.AddRow(Cells(i, rows[i]).Select(Markup.Escape).ToArray());
        console.Write(table);
    }

    private static List<string> Policies(IReadOnlyList<Row> rows) => rows[0].Comparison.Runs.Select(r => r.Result.Policy).ToList();

    /// <summary>The p99 of the operation the policies differ on (see <see cref="Headline"/>), or 0 without operations.</summary>
    private static long KeyP99(PolicyResult r) => KeyOperation(r) is { } t ? r.ByType.First(s => s.Type == t).P99Ns : 0;

    private static string Ratio(long a, long b) => b == 0 ? (a == 0 ? "1.00" : "inf") : ((double)a / b).ToString("0.00", CultureInfo.InvariantCulture);

    private static string Quote(string s) => s.Contains(',') || s.Contains('"') ? $"\"{s.Replace("\"", "\"\"")}\"" : s;
}
