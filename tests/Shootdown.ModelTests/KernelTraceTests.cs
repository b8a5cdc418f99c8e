using Shootdown.Analysis.KernelTrace;
using Shootdown.Engine;
using Shootdown.Model.Results;
using Shootdown.Model.Tracing;
using Shootdown.Model.Workload;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>
/// The kernel's trace formats (docs/outputs.md) both ways: the ftrace export speaks the tracepoints' formats, and
/// <c>shootdown replay</c> rebuilds operations from a trace, from a hand-checked fixture and
/// from the model's own export (the round trip).
/// </summary>
public sealed class KernelTraceTests
{
    private static string Fixture => Path.Combine(AppContext.BaseDirectory, "traces", "hand-8cpu.txt");

    /// <summary>Read by hand: khugepaged's flush of CPUs 0,1,3 then a sync; redis's one-page flush of CPU 4 (and itself); a local-only flush on CPU 6; bash's sync with no flush; and a csd of an operation begun before the trace.</summary>
    [Fact]
    public void HandCheckedFixtureGivesItsFourOperations()
    {
        var trace = FtraceReplay.Read(Fixture);
        Assert.Equal(8, trace.CpuCount);
        Assert.Equal(1, trace.OrphanEvents);
        var ops = trace.Ops.Select(o => $"{o.TimeNs - 100_000_000_000L}ns cpu{o.Cpu} {o.Type} pages={o.Pages} targets=[{string.Join(",", o.FlushTargets)}]");
        Assert.Equal([
            "100000ns cpu2 CollapseHugePage pages=512 targets=[0,1,3]",
            "200000ns cpu5 FlushRange pages=1 targets=[4]",
            "300000ns cpu6 FlushRange pages=1 targets=[]",
            "400000ns cpu1 SyncWithoutFlush pages=1 targets=[]",
        ], ops);
    }

    /// <summary>
    /// Read by hand, the same capture three ways (the trace file's hex masks, trace-cmd report's
    /// lists, function_graph's comments): khugepaged's flush IPI to CPUs 0,1,3 and then its sync;
    /// redis's single-target flush of CPU 4; bash's sync with no flush; and other callers'
    /// IPIs: irq_work's nohz_full kicks, text_poke's do_sync_core, and an empty mask.
    /// </summary>
    [Theory]
    [InlineData("ipi-only-8cpu.txt", 512, 4, "2 irq_work_queue_on, 1 do_sync_core", 1)]
    [InlineData("ipi-only-8cpu-trace-cmd.txt", 512, 4, "2 irq_work_queue_on, 1 do_sync_core", 1)]
    [InlineData("ipi-only-8cpu-function-graph.txt", 1, 0, "1 smp_text_poke_batch_finish", 0)]
    public void IpiOnlyCapturesGiveTheirThreeOperations(string file, int collapsePages, int byCallsite, string background, int emptyMasks)
    {
        var trace = FtraceReplay.Read(Path.Combine(AppContext.BaseDirectory, "traces", file));
        Assert.True(trace.FromIpiEvents);
        // function_graph's header has no #P: the machine is as large as the CPUs the trace names.
        Assert.Equal(8, trace.CpuCount ?? trace.HighestCpu + 1);
        var ops = trace.Ops.Select(o => $"{o.TimeNs - 100_000_000_000L}ns cpu{o.Cpu} {o.Type} pages={o.Pages} targets=[{string.Join(",", o.FlushTargets)}]");
        Assert.Equal([
            $"102000ns cpu2 CollapseHugePage pages={collapsePages} targets=[0,1,3]",
            "200000ns cpu5 FlushRange pages=1 targets=[4]",
            "400000ns cpu1 SyncWithoutFlush pages=1 targets=[]",
        ], ops);
        Assert.Equal(byCallsite, trace.ByCallsiteOnly);
        Assert.Equal(background, string.Join(", ", trace.Background.Select(b => $"{b.Ipis} {b.Caller}")));
        Assert.Equal(emptyMasks, trace.EmptyMasks);
    }

    /// <summary>
    /// flush_tlb_all() (on_each_cpu(do_flush_tlb_all)) is a TLB flush broadcast, not background,
    /// whether the trace shows its IPI (by callback, or by its function_graph caller) or its csds;
    /// a sync right after it is a sync with no flush, not a collapse.
    /// </summary>
    [Theory]
    [InlineData("# tracer: nop\n"
        + "  vmalloc-9 [003] ...1. 100.000100: ipi_send_cpumask: cpumask=000000f7 callsite=on_each_cpu_cond_mask+0x24/0x40 callback=do_flush_tlb_all+0x0/0x30\n"
        + "  vmalloc-9 [003] ...1. 100.000200: ipi_send_cpumask: cpumask=000000f7 callsite=smp_call_function_many_cond+0x1/0x2 callback=tlb_remove_table_smp_sync+0x0/0x10\n")]
    [InlineData("# tracer: nop\n"
        + "  vmalloc-9 [003] ...1. 100.000100: csd_queue_cpu: cpu=0 callsite=on_each_cpu_cond_mask+0x24/0x40 func=do_flush_tlb_all csd=0000000000000001\n"
        + "  vmalloc-9 [003] ...1. 100.000100: csd_queue_cpu: cpu=1 callsite=on_each_cpu_cond_mask+0x24/0x40 func=do_flush_tlb_all csd=0000000000000002\n"
        + "  vmalloc-9 [003] ...1. 100.000100: csd_queue_cpu: cpu=2 callsite=on_each_cpu_cond_mask+0x24/0x40 func=do_flush_tlb_all csd=0000000000000003\n"
        + "  vmalloc-9 [003] ...1. 100.000100: csd_queue_cpu: cpu=4 callsite=on_each_cpu_cond_mask+0x24/0x40 func=do_flush_tlb_all csd=0000000000000004\n"
        + "  vmalloc-9 [003] ...1. 100.000100: csd_queue_cpu: cpu=5 callsite=on_each_cpu_cond_mask+0x24/0x40 func=do_flush_tlb_all csd=0000000000000005\n"
        + "  vmalloc-9 [003] ...1. 100.000100: csd_queue_cpu: cpu=6 callsite=on_each_cpu_cond_mask+0x24/0x40 func=do_flush_tlb_all csd=0000000000000006\n"
        + "  vmalloc-9 [003] ...1. 100.000100: csd_queue_cpu: cpu=7 callsite=on_each_cpu_cond_mask+0x24/0x40 func=do_flush_tlb_all csd=0000000000000007\n"
        + "  vmalloc-9 [003] ...1. 100.000200: csd_queue_cpu: cpu=0 callsite=smp_call_function_many_cond+0x1/0x2 func=tlb_remove_table_smp_sync csd=0000000000000008\n")]
    public void FlushTlbAllIsAFlushBroadcastNotBackground(string text)
    {
        var path = Path.Combine(Sim.TempDir(), "flush-all.txt");
        File.WriteAllText(path, text);
        var trace = FtraceReplay.Read(path);
        Assert.Empty(trace.Background);
        var ops = trace.Ops.Select(o => $"{o.TimeNs - 100_000_000_000L}ns cpu{o.Cpu} {o.Type} pages={o.Pages} targets=[{string.Join(",", o.FlushTargets)}]");
        Assert.Equal(["100000ns cpu3 FlushRange pages=512 targets=[0,1,2,4,5,6,7]", "200000ns cpu3 SyncWithoutFlush pages=1 targets=[]"], ops);
    }

    /// <summary>The IPI-only capture replays to the closed forms: 3 + 1 flush IPIs, two syncs to the 7 others under baseline, none patched.</summary>
    [Fact]
    public void IpiOnlyCaptureReplaysToClosedForms()
    {
        var scenario = FtraceReplay.ToScenario(FtraceReplay.Read(Path.Combine(AppContext.BaseDirectory, "traces", "ipi-only-8cpu.txt")), null, ["baseline", "patched"]);
        var results = Sim.RunEveryPolicy(scenario);
        Assert.Equal((4, 14), (results["baseline"].ByType.Sum(s => s.FlushIpis), results["baseline"].ByType.Sum(s => s.SyncIpis)));
        Assert.Equal((4, 0), (results["patched"].ByType.Sum(s => s.FlushIpis), results["patched"].ByType.Sum(s => s.SyncIpis)));
    }

    [Theory]
    [InlineData("  a-1 [000] ...1. 1.000001: ipi_send_cpumask: cpumask=3 callsite=x+0x1 callback=generic_smp_call_function_single_interrupt\n", "cpumask", "--cpumask-format")]
    [InlineData("# tracer: nop\n  a-1 [000] ...1. 1.000001: ipi_send_cpumask: cpumask=1g callsite=x+0x1 callback=generic_smp_call_function_single_interrupt\n", "cpumask", "hex bitmap")]
    [InlineData("cpus=4\n  a-1 [000] 1.000001: ipi_send_cpumask: cpumask=1-x callsite=x+0x1 callback=generic_smp_call_function_single_interrupt\n", "cpumask", "CPU list")]
    [InlineData("# tracer: nop\n  a-1 [000] ...1. 1.000001: ipi_send_cpumask: cpumask=1 callsite=x\n", "ipi_send_cpumask", "callback")]
    [InlineData("   2)               |  native_flush_tlb_multi() {\n", "(line)", "funcgraph-abstime")]
    public void MalformedIpiEventsNameTheFieldAndTheFix(string text, string field, string hint)
    {
        var path = Path.Combine(Sim.TempDir(), "bad.txt");
        File.WriteAllText(path, text);
        var e = Assert.Throws<ScenarioException>(() => FtraceReplay.Read(path));
        Assert.Equal(field, e.Field);
        Assert.Contains(hint, e.Problem);
    }

    /// <summary>On the traced 8 CPUs: 3 + 1 flush IPIs, and a sync to the 7 others twice; patched skips both syncs. On 256 CPUs the flushes are the same and each sync reaches 255.</summary>
    [Theory]
    [InlineData(null, 7)]
    [InlineData("2s-256", 255)]
    public void FixtureReplaysToClosedForms(string? machine, int others)
    {
        var scenario = FtraceReplay.ToScenario(FtraceReplay.Read(Fixture), machine, ["baseline", "patched"]);
        var results = Sim.RunEveryPolicy(scenario);
        Assert.Equal(4, results["baseline"].ByType.Sum(s => s.FlushIpis));
        Assert.Equal(2 * others, results["baseline"].ByType.Sum(s => s.SyncIpis));
        Assert.Equal(4, results["patched"].ByType.Sum(s => s.FlushIpis));
        Assert.Equal(0, results["patched"].ByType.Sum(s => s.SyncIpis));
    }

    /// <summary>Export a baseline run, replay it on the same machine: every CPU handles the same flush and sync csds, and the totals match.</summary>
    [Theory]
    [InlineData("small-64.yaml")]
    [InlineData("safety/native-x86.yaml")]
    public void ExportThenReplayGivesIdenticalCounters(string file)
    {
        var scenario = ScenarioLoader.LoadFile(Sim.ScenarioPath(file));
        var (files, results) = FtraceExport.Render(scenario with { Policies = [scenario.Policies.Single(p => p.Name == "baseline")] }, FtraceWindow.Whole);
        var dir = Sim.TempDir();
        var path = Path.Combine(dir, "ftrace-baseline.txt");
        File.WriteAllText(path, files.Single(f => f.Name == "ftrace-baseline.txt").Content);
        var original = results.Single();

        var replay = FtraceReplay.ToScenario(FtraceReplay.Read(path), scenario.Machine.Name, ["baseline"]);
        var replayed = new ReferenceEngine(replay.SetupFor(replay.Policies[0])).Run(cancellation: TestContext.Current.CancellationToken);

        Assert.Equal(original.ByType.Sum(s => s.FlushIpis), replayed.ByType.Sum(s => s.FlushIpis));
        Assert.Equal(original.ByType.Sum(s => s.SyncIpis), replayed.ByType.Sum(s => s.SyncIpis));
        Assert.Equal(original.Cpus.Select(c => (c.Tlb, c.CsdsHandled, c.SyncCsdsHandled)), replayed.Cpus.Select(c => (c.Tlb, c.CsdsHandled, c.SyncCsdsHandled)));
        Assert.True(original.ByType.Sum(s => s.SyncIpis) > 0);
    }

    [Fact]
    public void ExportedLinesUseTheTracepointFormats()
    {
        var scenario = ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml"));
        var (files, results) = FtraceExport.Render(scenario with { Policies = [scenario.Policies[0]] }, FtraceWindow.Whole);
        var lines = files.Single(f => f.Name == "ftrace-baseline.txt").Content.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        var formats = new[]
        {
            @"tlb_flush: pages:-?\d+ reason:(remote shootdown|local mm shootdown|remote ipi send|remote wrong CPU) \([1345]\)$",
            @"csd_queue_cpu: cpu=\d+ callsite=\w+ func=(flush_tlb_func|tlb_remove_table_smp_sync) csd=[0-9a-f]{16}$",
            @"ipi_send_cpumask: cpumask=[0-9a-f]{8},[0-9a-f]{8} callsite=\w+ callback=generic_smp_call_function_single_interrupt$",
            @"ipi_send_cpu: cpu=\d+ callsite=\w+ callback=generic_smp_call_function_single_interrupt$",
            @"csd_function_(entry|exit): func=(flush_tlb_func|tlb_remove_table_smp_sync), csd=[0-9a-f]{16}$",
        };
        foreach (var line in lines)
        {
            Assert.Matches(@"^\s+\S+-\d+ \[\d{3}\] [dN.][.][h.]1[.] +\d+\.\d{6}: ", line);
            Assert.Contains(formats, f => System.Text.RegularExpressions.Regex.IsMatch(line, f));
        }
        // Every remote flush_tlb_func() run has its csd_function_entry; TLB counts exactly those.
        var result = results.Single();
        for (var cpu = 0; cpu < 64; cpu++)
            Assert.Equal(result.Cpus[cpu].Tlb, lines.Count(l => l.Contains($"[{cpu:000}]") && l.Contains("csd_function_entry: func=flush_tlb_func")));
        // The whole-run window starts before any interrupt and ends with the final counters.
        Assert.DoesNotContain(files.Single(f => f.Name == "interrupts-baseline-start.txt").Content.Split('\n')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).SkipLast(3), v => v != "0");
        Assert.Equal(files.Single(f => f.Name == "interrupts-baseline-end.txt").Content, Analysis.Reporting.ProcInterrupts.Render(scenario.Machine, result));
    }

    /// <summary>
    /// The TASK-PID column names who runs the collapse: khugepaged for a stream issued from a CPU
    /// outside the process's, the process itself (MADV_COLLAPSE) on one of its own CPUs.
    /// </summary>
    [Theory]
    [InlineData(4, "khugepaged-200")]
    [InlineData(0, "db-1000")]
    public void TheSenderIsTheTaskThatRunsTheCollapse(int cpu, string task)
    {
        var scenario = Sim.Parse($"""
            machine: pack:1 core:8 pu:1
            duration_us: 100
            policies: [baseline]
            processes:
              - name: db
                cpus: 0-3
            operations:
              - type: collapse_huge_page
                process: db
                cpu: {cpu}
                at_us: [10]
            """);
        var (files, _) = FtraceExport.Render(scenario, FtraceWindow.Whole);
        var senders = files.Single(f => f.Name == "ftrace-baseline.txt").Content.Split('\n')
            .Where(l => l.Contains("csd_queue_cpu", StringComparison.Ordinal) || l.Contains("ipi_send_", StringComparison.Ordinal))
            .Select(l => l.TrimStart().Split(' ')[0]).Distinct();
        Assert.Equal([task], senders);
    }

    /// <summary>
    /// The timeline for Perfetto: every arrow starts inside its sender's loop and ends where the
    /// target ran the csd; each CPU's interrupts and csd funcs match its counters; the
    /// initiator's call splits into loop, sends and csd_lock_wait, as OpRecord.Time says.
    /// </summary>
    [Fact]
    public void TheTimelineDrawsEveryCsdFromItsSenderToItsTarget()
    {
        var scenario = ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml"));
        var (files, results) = FtraceExport.Render(scenario, FtraceWindow.Whole);
        using var json = System.Text.Json.JsonDocument.Parse(files.Single(f => f.Name == "timeline.json").Content);
        var events = json.RootElement.GetProperty("traceEvents").EnumerateArray().ToList();
        string S(System.Text.Json.JsonElement e, string p) => e.GetProperty(p).GetString()!;
        var processes = events.Where(e => S(e, "ph") == "M" && S(e, "name") == "process_name").Select(e => e.GetProperty("args").GetProperty("name").GetString());
        Assert.Equal(["baseline", "patched"], processes);
        for (var p = 0; p < results.Length; p++)
        {
            var pid = p + 1;
            var mine = events.Where(e => e.GetProperty("pid").GetInt32() == pid).ToList();
            var slices = mine.Where(e => S(e, "ph") == "X").ToList();
            Assert.All(slices, e => Assert.True(e.GetProperty("dur").GetDouble() >= 0));
            var result = results[p];
            // One slice per interrupt taken, one per csd func run, on its CPU.
            for (var cpu = 0; cpu < 64; cpu++)
            {
                Assert.Equal(result.Cpus[cpu].Cal, slices.Count(e => S(e, "name") == "sysvec_call_function" && e.GetProperty("tid").GetInt32() == cpu));
                Assert.Equal(result.Cpus[cpu].CsdsHandled, slices.Count(e => S(e, "cat") == "csd" && S(e, "name") != "flush_smp_call_function_queue (idle loop)" && e.GetProperty("tid").GetInt32() == cpu));
            }
            // Arrows: one per csd run, each start and finish paired by id, the finish at a csd func's start on the target.
            var starts = mine.Where(e => S(e, "ph") == "s").ToDictionary(e => e.GetProperty("id").GetInt64());
            var finishes = mine.Where(e => S(e, "ph") == "f").ToList();
            Assert.Equal(result.Cpus.Sum(c => c.CsdsHandled), finishes.Count);
            foreach (var f in finishes)
            {
                var s = starts[f.GetProperty("id").GetInt64()];
                Assert.True(s.GetProperty("ts").GetDouble() <= f.GetProperty("ts").GetDouble());
                Assert.Contains(slices, x => S(x, "cat") == "csd" && x.GetProperty("tid").GetInt32() == f.GetProperty("tid").GetInt32()
                                             && x.GetProperty("ts").GetDouble() == f.GetProperty("ts").GetDouble());
                Assert.Contains(slices, x => S(x, "name") == "loop: csd_lock, llist_add" && x.GetProperty("tid").GetInt32() == s.GetProperty("tid").GetInt32()
                                             && x.GetProperty("ts").GetDouble() <= s.GetProperty("ts").GetDouble()
                                             && s.GetProperty("ts").GetDouble() <= x.GetProperty("ts").GetDouble() + x.GetProperty("dur").GetDouble());
            }
            // The loops on the timeline add up to the operations' loop time.
            var loops = slices.Where(e => S(e, "name") == "loop: csd_lock, llist_add").Sum(e => (long)Math.Round(e.GetProperty("dur").GetDouble() * 1000));
            Assert.Equal(result.Ops.Sum(o => o.Time.LoopNs), loops);
        }
        Assert.Contains(events, e => S(e, "ph") == "X" && S(e, "cat") == "idle");
    }

    /// <summary>
    /// Two one-page flushes of one mm reach CPUs 2 and 3 together and are drained by one
    /// interrupt: the first catches the TLB up to the newer generation (a full flush), the second
    /// finds it current and returns before the tracepoint. Both count in TLB (irq_tlb_count).
    /// </summary>
    [Fact]
    public void AFlushAlreadyCaughtUpReturnsWithoutATracepoint()
    {
        var scenario = Sim.Parse("""
            machine: pack:1 numa:1 core:4 pu:1
            duration_us: 100
            policies: [baseline]
            platform:
              cpuidle: off
            processes:
              - name: p
                cpus: 0-3
            operations:
              - type: flush_range
                process: p
                cpus: 0-1
                pages: 1
                at_us: [10]
            """);
        var (files, results) = FtraceExport.Render(scenario, FtraceWindow.Whole);
        var lines = files.Single(f => f.Name == "ftrace-baseline.txt").Content.Split('\n');
        foreach (var cpu in new[] { "[002]", "[003]" })
        {
            Assert.Equal(2, lines.Count(l => l.Contains(cpu) && l.Contains("csd_function_entry: func=flush_tlb_func")));
            Assert.Equal(["pages:-1 reason:remote shootdown (1)"],
                lines.Where(l => l.Contains(cpu) && l.Contains("tlb_flush:")).Select(l => l[(l.IndexOf("tlb_flush: ", StringComparison.Ordinal) + 11)..]));
        }
        Assert.Equal(2, results.Single().Cpus[2].Tlb);
    }

    [Theory]
    [InlineData(new[] { 1, 2, 3 }, 8, "0e")]
    [InlineData(new[] { 0 }, 36, "0,00000001")]
    [InlineData(new[] { 63, 1 }, 64, "80000000,00000002")]
    public void CpumaskPrintsAsTheKernelsBitmask(int[] cpus, int nrCpus, string expected) =>
        Assert.Equal(expected, FtraceText.Bitmask(cpus, nrCpus));

    [Theory]
    [InlineData("garbage line\n", 1, "(line)")]
    [InlineData("  a-1 [000] ...1. 1.000001: tlb_flush: pages:x reason:remote ipi send (4)\n", 1, "tlb_flush")]
    [InlineData("# #P:2\n  a-1 [005] ...1. 1.000001: tlb_flush: pages:1 reason:remote ipi send (4)\n", 0, "#P")]
    [InlineData("  a-1 [000] ...1. 1.000001: sched_switch: prev_comm=a\n", 0, "(file)")]
    [InlineData("  a-1 [000] ...1. 1.000001: csd_queue_cpu: cpu=1 func=flush_tlb_func\n", 1, "csd_queue_cpu")]
    [InlineData("  a-1 [000] ...1. 2.000001: tlb_flush: pages:1 reason:remote ipi send (4)\n  a-1 [000] ...1. 1.000001: tlb_flush: pages:1 reason:remote ipi send (4)\n", 2, "TIMESTAMP")]
    public void MalformedTraceNamesFileLineAndField(string text, int line, string field)
    {
        var path = Path.Combine(Sim.TempDir(), "bad.txt");
        File.WriteAllText(path, text);
        var e = Assert.Throws<ScenarioException>(() => FtraceReplay.Read(path));
        Assert.Equal(path, e.File);
        Assert.Equal(line, e.Line);
        Assert.Equal(field, e.Field);
    }

    [Fact]
    public void ReplayOnTooSmallAMachineIsAnError()
    {
        var e = Assert.Throws<ScenarioException>(() => FtraceReplay.ToScenario(FtraceReplay.Read(Fixture), "pack:1 numa:1 core:4 pu:1", ["baseline"]));
        Assert.Equal("--machine", e.Field);
    }
}
