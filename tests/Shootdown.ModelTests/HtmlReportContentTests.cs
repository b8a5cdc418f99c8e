using Shootdown.Analysis.Reporting;
using Shootdown.Analysis.Runs;
using Shootdown.Model.Topology;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>
/// The HTML report's bytes for runs of the reference engine: what each section says and that its
/// figures add up to the results. How a browser lays it out is the system tests' (HtmlReportTests).
/// </summary>
public sealed class HtmlReportContentTests
{
    private static Comparison Reference(Scenario scenario) => InProcessRuns.RunAll([scenario], EngineKind.Reference)[0];

    [Fact]
    public void HeatmapsShareOneScaleAndGroupCpusByNodeAndPackage()
    {
        var scenario = ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml"));
        var comparison = Reference(scenario);
        var html = HtmlReport.Render(comparison);
        var m = scenario.Machine;
        var groups = Enumerable.Range(0, m.CpuCount).Select(c => (m.NodeOf(c), m.PackageOf(c))).Distinct().Count();
        // One label per (node, package) group in each policy's map.
        Assert.Equal(groups * comparison.Runs.Length, System.Text.RegularExpressions.Regex.Matches(html, "<text class=\"group\"").Count);
        var max = comparison.Runs.Max(r => r.Result.Cpus.Max(c => c.Cal));
        Assert.Contains($"0 to {max:N0}", html);
    }

    [Fact]
    public void TheReportSaysHowItWasMade()
    {
        var scenario = ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml"));
        var comparison = Reference(scenario);
        var html = HtmlReport.Render(comparison);
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(scenario.Definition.ToJson())));
        Assert.Contains($"<code id=\"definition-hash\">{hash}</code>", html);
        Assert.Matches(@"<th>Shootdown</th><td>\d+\.\d+\.\d+(, commit [0-9a-f]{12})?</td>", html);
        Assert.Contains($"<code>{comparison.RunId}</code>", html);
        Assert.Contains("<th>kernel: patched</th>", html);
        Assert.Contains("sync_skip&quot;:&quot;when_flush_implies_ipi_broadcast", html);
        Assert.DoesNotContain("WhenFlushImpliesIpiBroadcast", html);
        Assert.Contains("<th>costs</th>", html);
    }

    [Fact]
    public void LatencyChartsHaveReadableAxesAndTellIdenticalCurvesApart()
    {
        var comparison = Reference(ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml")));
        var html = HtmlReport.Render(comparison);
        var charts = System.Text.RegularExpressions.Regex.Matches(html, "<figure class=\"cdf\"").Count;
        // The y axis says what it counts; p99 is marked on the right, apart from the 1 on the left.
        Assert.Equal(charts, System.Text.RegularExpressions.Regex.Matches(html, ">share of operations</text>").Count);
        Assert.Equal(charts, System.Text.RegularExpressions.Regex.Matches(html, ">p99</text>").Count);
        Assert.DoesNotContain(">0.99</text>", html);
        // The second policy's line is dashed: flush_range is the same under both, and both must show.
        Assert.Equal(charts, System.Text.RegularExpressions.Regex.Matches(html, "stroke-dasharray=\"8 5\"").Count);
    }

    [Fact]
    public void IpisOverTimeAndPerTargetAddUpToTheResults()
    {
        var comparison = Reference(ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml")));
        var html = HtmlReport.Render(comparison);
        foreach (var run in comparison.Runs)
        {
            var policy = run.Result.Policy;
            Assert.Contains($"{policy} flush ({run.Result.Ops.Sum(o => o.FlushIpis):N0})</span>", html);
            Assert.Contains($"{policy} sync ({run.Result.Ops.Sum(o => o.SyncIpis):N0})</span>", html);
        }
        // Per target: every CPU is in exactly one row, and the rows' flush and sync add up to TLB and sync csds handled.
        var table = html[html.IndexOf("<table class=\"targets\"", StringComparison.Ordinal)..];
        table = table[..table.IndexOf("</table>", StringComparison.Ordinal)];
        var rows = System.Text.RegularExpressions.Regex.Matches(table, @"<tr><th>([^<(]+?)(?: \((\d+)\))?</th>((?:<td>[\d,]+</td>)+)</tr>");
        Assert.Equal(comparison.Scenario.Machine.CpuCount, rows.Sum(r => r.Groups[2].Success ? int.Parse(r.Groups[2].Value) : 1));
        for (var p = 0; p < comparison.Runs.Length; p++)
        {
            long Column(int k) => rows.Sum(r => long.Parse(System.Text.RegularExpressions.Regex.Matches(r.Groups[3].Value, @"[\d,]+")[k].Value.Replace(",", ""))
                                              * (r.Groups[2].Success ? int.Parse(r.Groups[2].Value) : 1));
            Assert.Equal(comparison.Runs[p].Result.Cpus.Sum(x => x.Tlb), Column(2 * p));
            Assert.Equal(comparison.Runs[p].Result.Cpus.Sum(x => x.SyncCsdsHandled), Column(2 * p + 1));
        }
    }

    [Fact]
    public void IsolatedCpusWithTheSameNoiseShareOneRow()
    {
        var comparison = Reference(ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml")));
        var rt = comparison.Scenario.Workload.RealtimeCpus;
        Assert.All(comparison.Runs, run => Assert.Single(rt.Select(cpu => run.Result.Cpus[cpu].StolenNs).Distinct()));
        var html = HtmlReport.Render(comparison);
        Assert.Contains($"<tr><th>{CpuList.Format(rt.Order())} ({rt.Length})</th>", html);
    }

    [Fact]
    public void SafetyVerdictsAndCounterexamplesAreInTheReport()
    {
        var scenario = ScenarioLoader.LoadFile(Sim.ScenarioPath(Path.Combine("safety", "sync-without-flush.yaml")));
        var comparison = Reference(scenario);
        var html = HtmlReport.Render(comparison);
        Assert.Contains("Lockless-walker safety", html);
        Assert.Equal(0, comparison.Runs[0].Result.Safety!.ViolationCount);
        Assert.Contains($"safety baseline: {comparison.Runs[0].Result.Safety!.Verdict}", html);
        Assert.Contains("no TLB flush preceded the sync", html);
        Assert.DoesNotContain("Lockless-walker safety", HtmlReport.Render(Reference(ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml")))));
    }
}
