using Shootdown.Model.Kernel;

namespace Shootdown.Tests;

/// <summary>
/// khugepaged's pacing from its sysfs knobs (mm/khugepaged.c), as closed forms: a pass collapses
/// ceil(pages_to_scan / 512) ranges back to back and then sleeps scan_sleep_millisecs; a failed
/// huge page allocation sleeps alloc_sleep_millisecs. CPUs never sleep (no cpuidle states), so a
/// pass takes microseconds and the counts are the knobs' alone.
/// </summary>
public sealed class KhugepagedPacingTests
{
    private static int Collapses(string knobs) => Sim.Run($"""
        machine: small-64
        duration_us: 5000
        platform:
          cpuidle: off
        processes:
          - name: db
            cpus: 0-7
        operations:
          - type: collapse_huge_page
            process: db
            cpu: 8
            khugepaged: {knobs}
        """, KernelPolicy.Baseline).Ops.Length;

    [Theory]
    // 1024 pages: 2 ranges a pass; passes at 0 and after each 1 ms sleep (a pass takes µs): 5 in 5 ms.
    [InlineData("{ pages_to_scan: 1024, scan_sleep_millisecs: 1 }", 10)]
    // 1025 pages: progress counts HPAGE_PMD_NR a range, so a third range starts: 3 a pass.
    [InlineData("{ pages_to_scan: 1025, scan_sleep_millisecs: 1 }", 15)]
    // The defaults: 8 ranges, then 10 s asleep: one pass in 5 ms.
    [InlineData("{}", 8)]
    // Every allocation after the first fails: each attempt waits alloc_sleep_millisecs (10 ms) first.
    [InlineData("{ pages_to_scan: 1024, scan_sleep_millisecs: 1, alloc_fail: 1, alloc_sleep_millisecs: 10 }", 1)]
    public void APassCollapsesItsRangesThenSleeps(string knobs, int collapses) => Assert.Equal(collapses, Collapses(knobs));

    [Fact]
    public void CountIsTheProcesssCollapsibleRanges() =>
        Assert.Equal(3, Collapses("{ pages_to_scan: 1024, scan_sleep_millisecs: 1 }\n    count: 3"));

    [Fact]
    public void AtTheDefaultKnobsTheSeriesSavesEachCpuOneInterruptPerCollapse()
    {
        // scenarios/khugepaged-defaults-4096.yaml: two passes of 8 in 20 s, 0.8 collapses a second.
        var r = Sim.RunEveryPolicy(Shootdown.Scenarios.ScenarioLoader.LoadFile(Sim.ScenarioPath("khugepaged-defaults-4096.yaml")));
        var baseline = r["baseline"];
        Assert.Equal(16, baseline.ByType.Single().Count);
        Assert.Equal(16L * 4095, baseline.ByType.Single().SyncIpis);
        Assert.Equal(16L * 256, baseline.Realtime.Interrupts);
        Assert.Equal(0, r["patched"].ByType.Single().SyncIpis);
        Assert.Equal(0, r["patched"].Realtime.Interrupts);
    }
}
