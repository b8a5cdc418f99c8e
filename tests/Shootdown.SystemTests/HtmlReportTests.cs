using Shootdown.Analysis.Reporting;
using Shootdown.Analysis.Runs;
using Shootdown.Scenarios;
using Shootdown.Tests.Browser;

namespace Shootdown.Tests;

/// <summary>The HTML report, rendered by headless Chromium as a user would open it.</summary>
public sealed class HtmlReportTests
{
    [Fact]
    public async Task ReportLoadsWithoutErrorsHasOneHeatmapCellPerCpuAndIsNotBlank()
    {
        var dir = Sim.TempDir();
        var report = Path.Combine(dir, "report.html");
        var (exit, _, err) = Cli.Shootdown("run", Sim.ScenarioPath("small-64.yaml"), "--engine", "reference", "--report", report);
        Assert.True(exit == 0, err);
        var scenario = ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml"));
        var html = await File.ReadAllTextAsync(report, cancellationToken: TestContext.Current.CancellationToken);
        // Self-contained: nothing is fetched from anywhere.
        Assert.DoesNotContain("src=\"http", html);
        Assert.DoesNotContain("href=\"http", html);
        Assert.DoesNotContain("@import", html);

        await using var browser = await HeadlessChromium.LaunchAsync();
        await browser.NavigateAsync(new Uri(report).AbsoluteUri);
        var cells = (await browser.EvaluateAsync(
            "JSON.stringify([...document.querySelectorAll('.heatmap')].map(h => [h.dataset.policy, h.querySelectorAll('.cell').length, new Set([...h.querySelectorAll('.cell')].map(c => c.dataset.cpu)).size]))"))!
            .GetValue<string>();
        Assert.Equal($"[[\"baseline\",{scenario.Machine.CpuCount},{scenario.Machine.CpuCount}],[\"patched\",{scenario.Machine.CpuCount},{scenario.Machine.CpuCount}]]", cells);
        var cdfs = (await browser.EvaluateAsync("document.querySelectorAll('.cdf path.line').length"))!.GetValue<int>();
        Assert.True(cdfs >= 2, $"{cdfs} CDF lines");
        var headline = (await browser.EvaluateAsync("document.getElementById('headline').textContent"))!.GetValue<string>();
        Assert.Contains("collateral IPIs", headline);
        // The tooltip script runs: hovering a cell names its CPU.
        var tip = (await browser.EvaluateAsync(
            "(() => { const c = document.querySelector('.heatmap .cell'); const r = c.getBoundingClientRect(); " +
            "c.dispatchEvent(new MouseEvent('mousemove', {bubbles: true, clientX: r.x + 1, clientY: r.y + 1})); return document.getElementById('tip').textContent; })()"))!
            .GetValue<string>();
        Assert.StartsWith("baseline: CPU 0 ", tip);

        var (width, height, pixels) = Png.Decode(await browser.ScreenshotPngAsync());
        Assert.True(width > 100 && height > 100);
        // Not blank: many colours (text, the heatmap's ramp), and no single colour fills the page.
        Assert.True(pixels.Distinct().Count() > 50, $"{pixels.Distinct().Count()} distinct colours");
        Assert.True(pixels.GroupBy(p => p).Max(g => g.Count()) < 0.97 * pixels.Length, "one colour covers the screenshot");
        Assert.Empty(browser.Errors);
    }

    /// <summary>
    /// 80 packages of 2 cores of 2 threads: past 64 groups the map is one cell per group on a grid whose rows
    /// name their first CPU, and a click on a group opens its CPUs (every CPU's cell is there).
    /// </summary>
    [Fact]
    public async Task ALargeMachineMapsGroupsAndOpensAGroupsCpusOnAClick()
    {
        var dir = Sim.TempDir();
        var scenario = Path.Combine(dir, "wide.yaml");
        File.WriteAllText(scenario, """
            machine: pack:80 numa:1 core:2 pu:2
            duration_us: 200
            processes:
              - name: p
                cpus: 0-3
            operations:
              - type: collapse_huge_page
                process: p
                cpu: 4
                at_us: [10]
            """);
        var report = Path.Combine(dir, "report.html");
        var (exit, _, err) = Cli.Shootdown("run", scenario, "--engine", "reference", "--report", report);
        Assert.True(exit == 0, err);
        await using var browser = await HeadlessChromium.LaunchAsync();
        await browser.NavigateAsync(new Uri(report).AbsoluteUri);
        var maps = (await browser.EvaluateAsync(
            "JSON.stringify([...document.querySelectorAll('.heatmap')].map(h => [h.querySelectorAll('.group-cell').length, h.querySelectorAll('.cell').length, " +
            "h.querySelectorAll('.overview text.axis').length, h.querySelector('.overview text.axis').textContent]))"))!.GetValue<string>();
        // 80 groups on a 9-wide grid: 9 rows, the first labelled CPU 0.
        Assert.Equal("[[80,320,9,\"CPU 0\"],[80,320,9,\"CPU 0\"]]", maps);
        // What the browser lays out: before a click no group's CPUs take any room; after one, that
        // group's alone do, in both policies' maps (the script opens only the map clicked).
        const string shown = "[...document.querySelectorAll('.heatmap')].map(h => [...h.querySelectorAll('.detail')]" +
                             ".filter(d => d.getBoundingClientRect().height > 0).map(d => d.dataset.group))";
        Assert.Equal("[[],[]]", (await browser.EvaluateAsync($"JSON.stringify({shown})"))!.GetValue<string>());
        var before = (await browser.EvaluateAsync("document.documentElement.scrollHeight"))!.GetValue<int>();
        var opened = (await browser.EvaluateAsync(
            "(() => { const map = document.querySelector('.heatmap'); map.querySelector('.group-cell[data-group=\"5\"]').dispatchEvent(new MouseEvent('click', {bubbles: true})); " +
            $"const open = {shown}; const cells = [...map.querySelector('.detail[data-group=\"5\"]').querySelectorAll('.cell')].filter(c => c.getBoundingClientRect().width > 0).length; " +
            "return JSON.stringify([open, cells, map.querySelector('.drill-title').textContent]); })()"))!.GetValue<string>();
        // Package 5's SMT siblings are 160 apart, as Linux numbers them: the kernel's list format.
        Assert.Equal("[[[\"5\"],[]],4,\"node 5, package 5: CPUs 10-11,170-171\"]", opened);
        // One group's four CPUs add a few dozen pixels, not a page of maps.
        var after = (await browser.EvaluateAsync("document.documentElement.scrollHeight"))!.GetValue<int>();
        Assert.InRange(after - before, 0, 200);
        Assert.Empty(browser.Errors);
    }

}

/// <summary>The reports of replicates and of sweeps, rendered by headless Chromium.</summary>
public sealed class ReplicateReportTests
{
    /// <summary>
    /// A sweep of two points, three replicates each: one chart per figure, a line per policy
    /// through every point, and a band of visible height where the replicates disagree.
    /// </summary>
    [Fact]
    public async Task ASweepReportPlotsEachFigureWithItsIntervalBand()
    {
        var dir = Sim.TempDir();
        var scenario = Sim.Write(dir, "s.yaml", File.ReadAllText(Sim.ScenarioPath("small-64.yaml")) + "\nsweep:\n  operations[0].rate_per_s: [2000, 8000]\n");
        var report = Path.Combine(dir, "sweep.html");
        var (exit, stdout, err) = Cli.Shootdown("run", scenario, "--engine", "reference", "--seeds", "3", "--report", report);
        Assert.True(exit == 0, err);
        Assert.All(stdout.TrimEnd('\n').Split('\n'), l => Assert.True(l.Length <= 100, l));
        await using var browser = await HeadlessChromium.LaunchAsync();
        await browser.NavigateAsync(new Uri(report).AbsoluteUri);
        var charts = (await browser.EvaluateAsync(
            "JSON.stringify([...document.querySelectorAll('figure.sweep-chart')].map(f => [f.dataset.figure, f.querySelectorAll('polyline.line').length, " +
            "f.querySelectorAll('circle.point').length, Math.round(f.querySelector('svg').getBoundingClientRect().width)]))"))!.GetValue<string>();
        Assert.Contains("[\"collateral_ipis\",2,4,520]", charts);
        Assert.Contains("[\"csds_queued\",2,4,520]", charts);
        Assert.Contains("[\"collapse.latency_mean_us\",2,4,520]", charts);
        // The baseline's collateral IPIs differ between seeds: its band has height on the page.
        var band = (await browser.EvaluateAsync(
            "(() => { const b = document.querySelector('figure[data-figure=\"collateral_ipis\"] polygon.band[data-policy=\"baseline\"]').getBoundingClientRect(); return b.height > 2 && b.width > 100; })()"))!
            .GetValue<bool>();
        Assert.True(band);
        var (_, _, pixels) = Png.Decode(await browser.ScreenshotPngAsync());
        Assert.True(pixels.Distinct().Count() > 20, $"{pixels.Distinct().Count()} distinct colours");
        Assert.True(pixels.GroupBy(p => p).Max(g => g.Count()) < 0.97 * pixels.Length, "one colour covers the screenshot");
        Assert.Empty(browser.Errors);
    }

    [Fact]
    public async Task AReplicatedRunsReportHasIntervalsAndHistograms()
    {
        var dir = Sim.TempDir();
        var report = Path.Combine(dir, "r.html");
        var (exit, _, err) = Cli.Shootdown("run", Sim.ScenarioPath("small-64.yaml"), "--engine", "reference", "--seeds", "6", "--report", report);
        Assert.True(exit == 0, err);
        await using var browser = await HeadlessChromium.LaunchAsync();
        await browser.NavigateAsync(new Uri(report).AbsoluteUri);
        var note = (await browser.EvaluateAsync("document.getElementById('interval-note').innerText"))!.GetValue<string>();
        Assert.Equal("median over 6 replicates [95 % interval for the median, distribution-free].", note);
        // The collateral row shows a median (of an even count, halfway between two counts) and its interval under the baseline.
        var cell = (await browser.EvaluateAsync(
            "[...document.querySelectorAll('table.comparison tr')].find(r => r.querySelector('th')?.innerText === 'collateral IPIs').querySelectorAll('td')[0].innerText"))!.GetValue<string>();
        Assert.Matches(@"^[\d,]+(\.5)? \[[\d,]+–[\d,]+\]$", cell);
        // Histogram bars stand on the page with a height, and each legend names its n.
        var bars = (await browser.EvaluateAsync(
            "[...document.querySelectorAll('#hist-interrupts-per-cpu rect.bar')].filter(r => r.getBoundingClientRect().height > 0).length"))!.GetValue<int>();
        Assert.True(bars >= 2, $"{bars} bars");
        var legend = (await browser.EvaluateAsync("document.querySelector('#hist-interrupts-per-cpu .legend').innerText"))!.GetValue<string>();
        Assert.Contains("baseline (n=384)", legend);
        Assert.Empty(browser.Errors);
    }
}
