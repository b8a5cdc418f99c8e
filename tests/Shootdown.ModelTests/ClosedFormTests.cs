using Shootdown.Model.Kernel;
using Shootdown.Model.Workload;

namespace Shootdown.Tests;

/// <summary>
/// IPI counts that follow from the kernel code alone, on machines small enough to reason about:
/// one process pinned to k CPUs, always running, and c collapses from a CPU in its mask.
/// </summary>
public sealed class ClosedFormTests
{
    private static string Collapses(string machine, int k, int c, string extra = "") => $"""
        machine: "{machine}"
        duration_us: {c * 1000 + 1000}
        processes:
          - name: db
            cpus: 0-{k - 1}
        operations:
          - type: collapse_huge_page
            process: db
            cpu: 0
            at_us: [{string.Join(", ", Enumerable.Range(1, c).Select(i => i * 1000))}]
        {extra}
        """;

    [Theory]
    [InlineData("pack:2 numa:1 core:16 pu:2", 64, 8, 5)]
    [InlineData("pack:4 numa:2 core:16 pu:2", 128, 32, 3)]
    [InlineData("small-64", 64, 1, 2)]
    public void BaselineSyncsEveryOtherOnlineCpu_PatchedNone_FlushHitsTheRestOfTheMask(string machine, int n, int k, int c)
    {
        var yaml = Collapses(machine, k, c);
        var baseline = Sim.Run(yaml, KernelPolicy.Baseline);
        var patched = Sim.Run(yaml, KernelPolicy.Patched);

        var summary = baseline.ByType.Single(s => s.Type == OpType.CollapseHugePage);
        Assert.Equal(c, summary.Count);
        Assert.Equal((long)c * (n - 1), summary.SyncIpis);
        Assert.Equal((long)c * (k - 1), summary.FlushIpis);
        Assert.Equal((long)c * (n - k), baseline.CollateralIpis);

        var p = patched.ByType.Single(s => s.Type == OpType.CollapseHugePage);
        Assert.Equal(0, p.SyncIpis);
        Assert.Equal((long)c * (k - 1), p.FlushIpis);
        Assert.Equal(0, patched.CollateralIpis);
        // Nothing coalesces when operations never overlap: one interrupt per IPI.
        Assert.Equal(baseline.CsdsQueued, baseline.TotalInterrupts);
        // CAL counts every call-function interrupt; TLB only flush handler runs.
        Assert.Equal((long)c * (k - 1), baseline.Cpus.Sum(x => x.Tlb));
    }

    [Fact]
    public void ConfigWithoutRcuTableFreeMakesTheSyncANoOp()
    {
        var noRcu = KernelPolicy.Baseline with { Name = "no-rcu-table-free", MmuGatherRcuTableFree = false };
        var result = Sim.Run(Collapses("small-64", 8, 2), noRcu);
        Assert.Equal(0, result.ByType.Single().SyncIpis);
    }

    [Fact]
    public void SimultaneousBroadcastsCoalesceIntoOneInterruptPerTarget()
    {
        // CPUs 0 and 1 start a sync at the same instant. Each target gets both csds queued before
        // either IPI arrives, so the second llist_add finds the queue non-empty: one interrupt.
        const int n = 64;
        var yaml = $"""
            machine: small-64
            duration_us: 100
            processes:
              - name: a
                cpus: 0
              - name: b
                cpus: 1
            operations:
              - type: collapse_huge_page
                process: a
                cpu: 0
                at_us: [10]
              - type: collapse_huge_page
                process: b
                cpu: 1
                at_us: [10]
            """;
        var r = Sim.Run(yaml, KernelPolicy.Baseline);
        Assert.Equal(2L * (n - 1), r.CsdsQueued);
        Assert.Equal(2L * (n - 1), r.Cpus.Sum(c => c.CsdsHandled));
        for (var cpu = 2; cpu < n; cpu++)
        {
            Assert.Equal(2, r.Cpus[cpu].CsdsHandled);
            Assert.Equal(1, r.Cpus[cpu].Cal);
        }
        Assert.Equal(n, r.TotalInterrupts);
    }

    [Fact]
    public void EveryCsdOfAHundredSimultaneousSyncsRunsOnce_ManyInOneDrain()
    {
        // 100 CPUs start a sync at the same instant on a 128-CPU machine: each other CPU gets 100
        // csds, a sender 99, and an idle target wakes slowly enough that all 100 wait in its
        // call_single_queue for one drain (a storm's queues hold hundreds).
        const int n = 128, senders = 100;
        var yaml = $"""
            machine: pack:2 numa:1 core:32 pu:2
            duration_us: 400
            processes:
              - name: storm
                threads: {senders}
                cpus: 0-{senders - 1}
            operations:
              - type: collapse_huge_page
                process: storm
                cpus: 0-{senders - 1}
                at_us: [10]
            """;
        var r = Sim.Run(yaml, KernelPolicy.Baseline);
        Assert.Equal((long)senders * (n - 1), r.Cpus.Sum(c => c.SyncCsdsHandled));
        for (var cpu = 0; cpu < n; cpu++) Assert.Equal(cpu < senders ? senders - 1 : senders, r.Cpus[cpu].SyncCsdsHandled);
        Assert.Contains(r.Cpus, c => c.Cal == 1 && c.SyncCsdsHandled == senders);
    }

    [Fact]
    public void FreedTablesFlushWakesLazyCpus_ThenTheWrongCpuPathClearsTheirBits()
    {
        // db stops at 50 µs: its 8 CPUs go lazy with db still loaded and in mm_cpumask.
        var yaml = """
            machine: small-64
            duration_us: 1000
            processes:
              - name: db
                cpus: 0-7
                stop_us: 50
            operations:
              - type: collapse_huge_page
                process: db
                cpu: 8
                at_us: [100, 200, 300]
            """;
        var r = Sim.Run(yaml, KernelPolicy.Patched);
        // 1st: all 8 lazy CPUs are IPI'd (freed_tables) and switch to init_mm.
        // 2nd: still in the mask; flush_tlb_func finds the mm not loaded and clears the bit.
        // 3rd: the mask is empty, and khugepaged's CPU is not in it: no IPI at all.
        Assert.Equal([8, 8, 0], r.Ops.Select(o => o.FlushIpis));
        Assert.Equal(16, r.Cpus.Sum(c => c.Tlb));
    }

    [Fact]
    public void NonFreedTablesFlushSkipsLazyCpus_AndTrimsDepartedOnesOncePerSecond()
    {
        var yaml = """
            machine: small-64
            duration_us: 1002000
            processes:
              - name: db
                cpus: 0-7
                stop_us: 50
            operations:
              - type: flush_range
                process: db
                cpu: 8
                pages: 4
                at_us: [100, 300, 1000100, 1000300]
              - type: collapse_huge_page
                process: db
                cpu: 9
                at_us: [200]
            """;
        var r = Sim.Run(yaml, KernelPolicy.Baseline);
        var flushes = r.Ops.Where(o => o.Type == OpType.FlushRange).Select(o => o.FlushIpis).ToArray();
        // 100 µs: all lazy, should_flush_tlb() says no. (The collapse at 200 µs then moves them to init_mm.)
        // 300 µs: not loaded and no trim due: still none.
        // 1.0001 s: the once-a-second trim IPIs every departed CPU, which clears its bit.
        // 1.0003 s: the mask is empty.
        Assert.Equal([0, 0, 8, 0], flushes);
    }

    [Fact]
    public void RangesAboveTheCeilingBecomeFullFlushes()
    {
        var yaml = """
            machine: small-64
            duration_us: 1000
            processes:
              - name: db
                cpus: 0-3
            operations:
              - type: flush_range
                process: db
                cpu: 0
                pages: 33
                at_us: [100]
              - type: flush_range
                process: db
                cpu: 1
                pages: 34
                at_us: [200]
            """;
        var r = Sim.Run(yaml, KernelPolicy.Baseline);
        Assert.Equal([false, true], r.Ops.OrderBy(o => o.StartNs).Select(o => o.FullFlush));
    }

    [Fact]
    public void OnlyTheLastSharerSyncs_AndOnlyThePatchedFlushWakesLazyCpus()
    {
        var yaml = """
            machine: small-64
            duration_us: 1000
            processes:
              - name: owner
                cpus: 0-3
              - name: c1
                cpus: 8-9
              - name: c2
                threads: 2
                cpus: 10-11
                stop_us: 50
            hugetlb_shares:
              - name: sga
                processes: [owner, c1, c2]
            operations:
              - type: hugetlb_unshare
                process: c1
                cpu: 8
                at_us: [100]
              - type: hugetlb_unshare
                process: c2
                cpu: 12
                at_us: [300]
            """;
        var baseline = Sim.Run(yaml, KernelPolicy.Baseline);
        var patched = Sim.Run(yaml, KernelPolicy.Patched);
        var b = baseline.Ops.OrderBy(o => o.StartNs).ToArray();
        var p = patched.Ops.OrderBy(o => o.StartNs).ToArray();
        // c1 leaves two sharers: flush c1's other CPU, no sync. c2 is the last: sync everyone else.
        Assert.Equal([false, true], b.Select(o => o.Synced));
        Assert.Equal([1, 0], b.Select(o => o.FlushIpis));
        Assert.Equal(63, b[1].SyncIpis);
        // c2's CPUs are lazy: upstream's unshare flush (freed_tables=false) skips them; the series wakes them.
        Assert.Equal([1, 2], p.Select(o => o.FlushIpis));
        Assert.Equal([false, false], p.Select(o => o.Synced));
    }

    /// <summary>
    /// One sync from CPU 0 on 2 packages x 16 cores without SMT (two x2APIC clusters: 1-15, 16-31),
    /// every delivery 400 ns and every cache-line transfer 1 ns, so csd_lock_wait() ends one
    /// transfer after the last unlock, or one per target after a common unlock.
    /// <list type="bullet">
    /// <item>shorthand: one ICR write; all 31 unlock together at U; done at U + 31.</item>
    /// <item>cluster: cluster 0 leaves at +40 (unlock U), cluster 1 at +80 (U + 40); done at U + 40 + 16.</item>
    /// <item>physical: target j leaves at +40(j+1); the last unlocks at U + 30·40; done at U + 1200 + 1.</item>
    /// </list>
    /// </summary>
    [Fact]
    public void ApicSendModesCostWhatTheirIcrWritesCost()
    {
        long SyncLatency(string apic) => Sim.Run($"""
            machine: pack:2 core:16 pu:1
            duration_us: 100
            platform:
              cpuidle: off
            costs:
              {apic}
              icr_write_ns: 40
              ipi_delivery_same_package_ns: 400
              ipi_delivery_per_numa_hop_ns: 0
              cache_line_same_l3_ns: 1
              cache_line_same_package_ns: 1
              cache_line_per_numa_hop_ns: 0
              mm_context_access_ns: 1
            processes:
              - name: p
                cpus: 0
            operations:
              - type: collapse_huge_page
                process: p
                cpu: 0
                at_us: [10]
            """, KernelPolicy.Baseline).Ops.Single().LatencyNs;

        var shorthand = SyncLatency("ipi_shorthand: true");
        Assert.Equal(shorthand + 40 + 16 - 31, SyncLatency("ipi_shorthand: false\n  apic_mode: x2apic-cluster"));
        Assert.Equal(shorthand + 30 * 40 + 1 - 31, SyncLatency("ipi_shorthand: false\n  apic_mode: physical"));
        // UV: uv_send_IPI_allbutself() writes each CPU's hub in turn, shorthands on or not.
        Assert.Equal(shorthand + 30 * 40 + 1 - 31, SyncLatency("ipi_shorthand: true\n  apic_mode: uv"));
    }

    [Fact]
    public void EachMachineHasItsApicModeAndCoreToCoreTable()
    {
        static Model.Costs.CostModel Costs(string machine, string costs = "") =>
            Sim.Parse($"machine: {machine}\nduration_us: 10\n{costs}processes:\n  - name: p\n    cpus: 0\n").SetupFor(KernelPolicy.Baseline).Costs;
        var uv = Costs("uv-4096");
        Assert.Equal((Model.Costs.ApicMode.Uv, 47L, 87L), (uv.ApicMode, uv.CacheLineSamePackageNs, uv.CacheLinePerNumaHopNs));
        var small = Costs("small-64");
        Assert.Equal((Model.Costs.ApicMode.X2ApicCluster, 51L, 57L), (small.ApicMode, small.CacheLineSamePackageNs, small.CacheLinePerNumaHopNs));
        // A scenario's table, then its single figures, override the machine's.
        var milan = Costs("uv-4096", "costs:\n  core_to_core: epyc-7r13\n  cache_line_same_l3_ns: 25\n  apic_mode: x2apic-cluster\n");
        Assert.Equal((Model.Costs.ApicMode.X2ApicCluster, 25L, 107L, 90L),
            (milan.ApicMode, milan.CacheLineSameL3Ns, milan.CacheLineSamePackageNs, milan.CacheLinePerNumaHopNs));
    }

    [Fact]
    public void TheBootTimePredicateIsTrueOnlyForNativeFlushWithoutInvlpgb()
    {
        Assert.True(KernelPolicy.Patched.TlbTableFlushImpliesIpiBroadcast(MachineFeatures.NativeX86));
        Assert.False(KernelPolicy.Patched.TlbTableFlushImpliesIpiBroadcast(MachineFeatures.NativeX86 with { Invlpgb = true }));
        Assert.False(KernelPolicy.Baseline.TlbTableFlushImpliesIpiBroadcast(MachineFeatures.NativeX86));
    }
}
