using System.Collections.Immutable;
using Shootdown.Analysis.Reporting;
using Shootdown.Analysis.Runs;
using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Model.Topology;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>The output files in the exact shapes kernel developers read.</summary>
public sealed class OutputFormatTests
{
    private static readonly Machine TwoCpus = SyntheticSpec.Parse("pack:1 core:2 pu:1");

    private static PolicyResult Result(params CpuCounters[] cpus) => new("baseline", 1_000_000, 0, [.. cpus], [], [1]);

    [Fact]
    public void ProcInterruptsHasX86sLayout()
    {
        var r = Result(new CpuCounters(0, 12, 5, 0, 0, 0, 0, 0, 0), new CpuCounters(1, 3456789, 0, 0, 0, 0, 0, 0, 0));
        // show_interrupts(): prec(3)+8 blanks, "CPU%-8d"; arch_show_interrupts(): "%*s: ", "%10u " per CPU, "  " + description.
        Assert.Equal(
            "           CPU0       CPU1       \n" +
            "CAL:         12    3456789   Function call interrupts\n" +
            "TLB:          5          0   TLB shootdowns\n",
            ProcInterrupts.Render(TwoCpus, r));
    }

    [Fact]
    public void OsnoiseTopHasRtlasColumns()
    {
        var r = Result(new CpuCounters(0, 0, 0, 0, 0, 0, 0, 0, 0), new CpuCounters(1, 7, 0, 7, 7, 4_200, 700, 2_800, 0));
        var lines = OsnoiseTop.Render(TwoCpus, r, [1], 1_000_000, 250_000).Split('\n');
        // rtla's duration, with the milliseconds a run shorter than a second needs.
        Assert.Equal("duration:   0 00:00:00.001 | time is in ns | policy baseline", lines[1]);
        Assert.Equal("duration:   0 00:00:02 | time is in ns | policy baseline", OsnoiseTop.Render(TwoCpus, r, [1], 2_000_000_000, 250_000).Split('\n')[1]);
        Assert.Equal("CPU Period       Runtime        Noise  % CPU Aval   Max Noise   Max Single          IRQ", lines[2]);
        // 4 periods of 250 µs; 4.2 µs of noise in 1 ms leaves 99.58 % of the CPU.
        Assert.Equal("  1 #4           1000000         4200   99.58000         2800          700            7", lines[3]);
    }

    [Fact]
    public void RealRunsFillEveryFileConsistently()
    {
        var scenario = Sim.Parse("""
            machine: small-64
            duration_us: 2000
            osnoise_period_us: 500
            realtime_cpus: 60-63
            processes:
              - name: db
                cpus: 0-15
              - name: rt
                cpus: 60-63
            operations:
              - type: collapse_huge_page
                process: db
                cpu: 16
                at_us: [100, 700, 1300]
            """);
        var c = InProcessRuns.RunAll([scenario], EngineKind.Reference, cancellation: TestContext.Current.CancellationToken)[0];
        var files = ResultFiles.Render(c).ToDictionary(f => f.Name, f => f.Content);
        Assert.Equal(["results.json", "summary.csv", "cpus.csv", "interrupts-baseline.txt", "osnoise-baseline.txt", "interrupts-patched.txt", "osnoise-patched.txt"], files.Keys);

        var csv = files["cpus.csv"].TrimEnd('\n').Split('\n');
        Assert.Equal(CpuCsv.Header, csv[0]);
        Assert.Equal(1 + 2 * 64, csv.Length);
        var baseline = c.Runs[0].Result;
        Assert.Equal(baseline.TotalInterrupts, csv.Skip(1).Where(l => l.StartsWith("baseline,")).Sum(l => long.Parse(l.Split(',')[8])));

        // Three syncs reach each real-time CPU under the baseline, each in its own 500 µs osnoise period.
        var rt = files["osnoise-baseline.txt"].Split('\n')[3].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(("60", "#4", "3"), (rt[0], rt[1], rt[^1]));
        Assert.Equal(baseline.Cpus[60].MaxSingleNs, long.Parse(rt[^2]));
        Assert.Equal(baseline.Cpus[60].MaxSingleNs, long.Parse(rt[^3])); // one interruption per period
        Assert.Equal(3, baseline.Cpus[60].Cal);
        Assert.All(files["osnoise-patched.txt"].Split('\n').Skip(3).Where(l => l.Length > 0), l => Assert.EndsWith(" 0", l));

        var cal = files["interrupts-baseline.txt"].Split('\n')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(baseline.Cpus.Select(x => x.Cal.ToString()), cal.Skip(1).Take(64));
    }

    /// <summary>
    /// docs/outputs.md's /proc/interrupts and osnoise samples are a real run's files:
    /// scenarios/epyc-8160.yaml on the reference engine, its first 78 columns and its first real-time CPU.
    /// </summary>
    [Fact]
    public void TheOutputSamplesInTheDocsAreARealRunsFiles()
    {
        var run = InProcessRuns.RunAll([ScenarioLoader.LoadFile(Sim.ScenarioPath("epyc-8160.yaml"))], EngineKind.Reference, cancellation: TestContext.Current.CancellationToken)[0];
        var files = ResultFiles.Render(run).ToDictionary(f => f.Name, f => f.Content);
        var interrupts = files["interrupts-baseline.txt"].Split('\n').Take(3).Select(l => l[..Math.Min(78, l.Length)] + "\n");
        Assert.Equal(DocBlocks.After(Path.Combine("docs", "outputs.md"), "`interrupts-baseline.txt` from `scenarios/epyc-8160.yaml`"), string.Concat(interrupts));
        var osnoise = files["osnoise-baseline.txt"].Split('\n').Take(4).Select(l => l + "\n");
        Assert.Equal(DocBlocks.After(Path.Combine("docs", "outputs.md"), "`osnoise-baseline.txt` from the same run"), string.Concat(osnoise));
    }
}
