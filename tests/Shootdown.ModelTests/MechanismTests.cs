using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Model.Workload;

namespace Shootdown.Tests;

/// <summary>
/// One closed form per flush mechanism, config switch and what-if policy, on an N = 64 CPU
/// machine with one process always running on k CPUs and c operations from CPU 0 that never
/// overlap: who gets a flush IPI, who gets a sync IPI (docs/model.md, the kernel facts).
/// </summary>
public sealed class MechanismTests
{
    private const int N = 64, K = 8, C = 4;

    private static string Scenario(string extra, string op = "collapse_huge_page", string opExtra = "", string policies = "[baseline, patched]") => $"""
        machine: small-64
        duration_us: {C * 1000 + 1000}
        policies: {policies}
        processes:
          - name: db
            cpus: 0-{K - 1}
        operations:
          - type: {op}
            process: db
            cpu: 0
            at_us: [{string.Join(", ", Enumerable.Range(1, C).Select(i => i * 1000))}]
        {opExtra}
        {extra}
        """;

    private static Dictionary<string, LatencySummary> Run(string yaml) =>
        Sim.RunEveryPolicy(Sim.Parse(yaml)).ToDictionary(r => r.Key, r => r.Value.ByType.Single());

    [Theory]
    [InlineData("hyperv")]
    [InlineData("xen")]
    public void HypercallFlushSendsNoGuestIpiAndTheSyncStillBroadcasts(string backend)
    {
        var r = Run(Scenario($"platform: {{ flush: {backend} }}"));
        foreach (var s in r.Values)
        {
            Assert.Equal(0, s.FlushIpis);
            Assert.Equal((long)C * (N - 1), s.SyncIpis);
        }
    }

    [Fact]
    public void Arm64TlbiBroadcastSendsNoIpiAndThePatchedPredicateStaysFalse()
    {
        var r = Run(Scenario("platform: { arch: arm64 }"));
        Assert.All(r.Values, s => Assert.Equal(0, s.FlushIpis));
        Assert.All(r.Values, s => Assert.Equal((long)C * (N - 1), s.SyncIpis));
    }

    [Theory]
    [InlineData("sbi", 0)]
    [InlineData("ipi", C * (K - 1))]
    public void RiscVFlushesBySbiFenceOrByIpisToTheMask(string fence, int flushIpis)
    {
        var r = Run(Scenario($"platform: {{ arch: riscv, riscv_remote_fence: {fence} }}"));
        Assert.All(r.Values, s => Assert.Equal(flushIpis, s.FlushIpis));
        Assert.All(r.Values, s => Assert.Equal((long)C * (N - 1), s.SyncIpis));
    }

    [Fact]
    public void InvlpgbBroadcastsOnceTheMmHasAGlobalAsid()
    {
        // The first flush IPIs and assigns the global ASID (active on k > 3 CPUs); the second is
        // the ASID transition, still IPIs; every later one is INVLPGB. The sync always broadcasts.
        var r = Run(Scenario("platform: { invlpgb: true, global_asid_sampling: false }"));
        Assert.All(r.Values, s => Assert.Equal(2 * (K - 1), s.FlushIpis));
        Assert.All(r.Values, s => Assert.Equal((long)C * (N - 1), s.SyncIpis));
    }

    [Fact]
    public void InvlpgbNeedsFourActiveCpusAndTheJiffySample()
    {
        var three = Run(Scenario("platform: { invlpgb: true, global_asid_sampling: false }").Replace($"cpus: 0-{K - 1}", "cpus: 0-2"));
        Assert.All(three.Values, s => Assert.Equal(C * 2, s.FlushIpis));
        // pid 1000 has low bits 8: operations at 1..4 ms meet jiffies 1..4, never 8.
        var sampled = Run(Scenario("platform: { invlpgb: true }"));
        Assert.All(sampled.Values, s => Assert.Equal(C * (K - 1), s.FlushIpis));
    }

    [Fact]
    public void KvmDropsPreemptedVcpusFromTheFlushAndTheSyncWaitsForThem()
    {
        // CPUs 1-3 are preempted 999 µs of every 1000: the flush leaves them to the host.
        var yaml = Scenario("platform: { flush: kvm }\nsteal_time:\n  - cpus: 1-3\n    period_us: 1000\n    duration_us: 999");
        var scenario = Sim.Parse(yaml);
        var preempted = Enumerable.Range(1, C).Sum(i => Enumerable.Range(1, 3).Count(c => scenario.SetupFor(KernelPolicy.Baseline).Preemption.IsPreempted(c, i * 1_000_000 + 100)));
        Assert.Equal(3 * C, preempted);
        var r = Run(yaml);
        Assert.All(r.Values, s => Assert.Equal(C * (K - 1 - 3), s.FlushIpis));
        // Patched's predicate is false under KVM: the sync broadcasts, and a preempted vCPU only
        // acknowledges when it runs again, so the operation waits out its preemption.
        Assert.All(r.Values, s => Assert.Equal((long)C * (N - 1), s.SyncIpis));
        var bare = Run(Scenario(""))["baseline"];
        Assert.True(r["baseline"].MeanNs > bare.MeanNs + 10_000, $"{r["baseline"].MeanNs} vs {bare.MeanNs}");
    }

    [Fact]
    public void SyncMmCpumaskInterruptsOnlyTheMaskAndNoOne()
    {
        var r = Run(Scenario("", policies: "[baseline, sync-mm-cpumask, always-skip]"));
        Assert.Equal((long)C * (K - 1), r["sync-mm-cpumask"].SyncIpis);
        Assert.Equal(0, r["sync-mm-cpumask"].CollateralIpis);
        Assert.Equal((long)C * (N - K), r["baseline"].CollateralIpis);
        Assert.Equal(0, r["always-skip"].SyncIpis);
    }

    [Fact]
    public void SyncLocklessWalkersInterruptsOnlyCpusInsideAWalk()
    {
        // No walker anywhere: every cond_func declines, no sync IPI is sent, but the call still
        // sets up a csd check for each of the N−1 CPUs.
        var none = Run(Scenario("", policies: "[sync-lockless-walkers]"))["sync-lockless-walkers"];
        Assert.Equal(0, none.SyncIpis);
        Assert.True(none.MeanNs >= (N - 1) * 50, none.MeanNs.ToString());
        // GUP-fast walkers on CPUs 1-3 only: at most those are interrupted, and the invariant holds.
        var scenario = Sim.Parse(Scenario("walkers:\n  - kind: gup_fast\n    process: db\n    cpus: 1-3\n    interval_us: 2\n    duration_us: 1",
            policies: "[sync-lockless-walkers]"));
        var result = Sim.RunEveryPolicy(scenario)["sync-lockless-walkers"];
        var s = result.ByType.Single();
        Assert.InRange(s.SyncIpis, 1, C * 3);
        Assert.Equal(0, result.Safety!.ViolationCount);
    }

    [Fact]
    public void SyncRcuExpeditedInterruptsOnlyCpusThatAreNotIdle()
    {
        // The k−1 other CPUs run db; the N−k others are idle, in an extended quiescent state.
        var r = Run(Scenario("", policies: "[baseline, sync-rcu-expedited]"));
        Assert.Equal((long)C * (K - 1), r["sync-rcu-expedited"].SyncIpis);
        Assert.Equal(0, r["sync-rcu-expedited"].CollateralIpis);
        Assert.Equal((long)C * (N - 1), r["baseline"].SyncIpis);
        // GUP-fast walkers on the busy CPUs: each takes the IPI when its IRQs-off walk ends, and nothing is freed under a walker.
        var walked = Sim.RunEveryPolicy(Sim.Parse(Scenario("walkers:\n  - kind: gup_fast\n    process: db\n    cpus: 1-7\n    interval_us: 2\n    duration_us: 1",
            policies: "[sync-rcu-expedited]")))["sync-rcu-expedited"];
        Assert.Equal((long)C * (K - 1), walked.ByType.Single().SyncIpis);
        Assert.Equal(0, walked.Safety!.ViolationCount);
    }

    [Theory]
    // Idle CPUs are in an extended quiescent state, found by the first FQS scan: jiffies_till_first_fqs
    // is 1 + (HZ > 250) + (HZ > 500) + 64/256 = 3 jiffies at HZ=1000, and 2 with the boot parameter.
    [InlineData("", 3)]
    [InlineData("\ncosts: { rcu_jiffies_till_first_fqs: 2 }", 2)]
    public void SyncRcuSendsNoIpiAndWaitsForTheFirstForceQuiescentStateScan(string costs, int jiffies)
    {
        // Operations 10 ms apart, so none queues behind the one before.
        var yaml = Scenario(costs, policies: "[sync-rcu]").Replace("at_us: [1000, 2000, 3000, 4000]", "at_us: [1000, 11000, 21000, 31000]")
            .Replace($"duration_us: {C * 1000 + 1000}", "duration_us: 40000");
        var s = Run(yaml)["sync-rcu"];
        Assert.Equal(0, s.SyncIpis);
        Assert.Equal((long)C * (K - 1), s.FlushIpis);
        // The flush's own microseconds, then the kthread's turn at each end (10 µs each) around the FQS scan.
        var gp = jiffies * 1_000_000L + 2 * 10_000;
        Assert.InRange(s.MeanNs, gp, gp + 50_000);
    }

    [Fact]
    public void SyncRcuWaitsForEveryIrqsOffWalkThatBeganBeforeIt()
    {
        // A hypercall flush interrupts no guest CPU, so only the sync can drain GUP-fast walkers
        // (IRQs off 300 µs of every 400 on CPUs 1-63). synchronize_rcu() sends no IPI, yet frees
        // nothing under a walker: each busy CPU's quiescent state is a tick taken after its walk.
        // Skipping the sync (always-skip) frees tables under walkers.
        // Every CPU runs db (no idle CPU for the FQS scan to wait for), and HZ is 10 kHz: a tick
        // every 100 µs, well inside a walk, so the grace period is short and ends only after walks.
        var walkers = "platform: { flush: hyperv }\ncosts: { jiffy_ns: 100000 }\nwalkers:\n  - kind: gup_fast\n    process: db\n    cpus: 1-63\n    interval_us: 400\n    duration_us: 300";
        var yaml = Scenario(walkers, policies: "[sync-rcu, always-skip]").Replace($"    cpus: 0-{K - 1}\n", $"    cpus: 0-{N - 1}\n");
        var results = Sim.RunEveryPolicy(Sim.Parse(yaml));
        var rcu = results["sync-rcu"];
        Assert.Equal(0, rcu.ByType.Single().SyncIpis);
        Assert.True(rcu.Safety!.Walks > 0);
        Assert.Equal(0, rcu.Safety.ViolationCount);
        Assert.True(results["always-skip"].Safety!.ViolationCount > 0);
        Assert.InRange(rcu.ByType.Single().MeanNs, 20_000, 500_000);
    }

    [Fact]
    public void NohzFullCpusInUserModeAreSparedByTheExpeditedGracePeriodAndPayContextTracking()
    {
        // CPUs 1-7 run db in user mode with nohz_full: extended quiescent states, so
        // synchronize_rcu_expedited() interrupts none of them, where without nohz_full it takes all 7.
        var r = Run(Scenario("nohz_full: 1-7", policies: "[baseline, sync-rcu-expedited]"));
        Assert.Equal(0, r["sync-rcu-expedited"].SyncIpis);
        Assert.Equal((long)C * (N - 1), r["baseline"].SyncIpis);
        // The broadcast interrupts them in user mode: each interrupt costs context tracking's 100 ns more.
        var plain = Sim.RunEveryPolicy(Sim.Parse(Scenario("", policies: "[baseline]")))["baseline"];
        var nohz = Sim.RunEveryPolicy(Sim.Parse(Scenario("nohz_full: 1-7", policies: "[baseline]")))["baseline"];
        var cpus17 = Enumerable.Range(1, 7);
        Assert.Equal(cpus17.Sum(c => plain.Cpus[c].StolenNs + plain.Cpus[c].Cal * 100), cpus17.Sum(c => nohz.Cpus[c].StolenNs));
    }

    [Fact]
    public void EveryCpuInNohzFullIsRefused() =>
        Assert.Contains("no housekeeping CPU", Assert.Throws<Shootdown.Scenarios.ScenarioException>(() => Sim.Parse(Scenario("nohz_full: 0-63"))).Message);

    [Fact]
    public void TheV3DesignSkipsTheSyncOnlyWhenTheFlushIpidEveryOtherCpuOfTheMask()
    {
        // Native x86: the collapse's flush queues a csd on each of the k−1 others, so the sync is skipped.
        var native = Run(Scenario("", policies: "[v3-skip-if-ipis-sent]"))["v3-skip-if-ipis-sent"];
        Assert.Equal((long)C * (K - 1), native.FlushIpis);
        Assert.Equal(0, native.SyncIpis);
        // A hypercall flush sends no IPI: the sync broadcasts, as upstream's.
        var hyperv = Run(Scenario("platform: { flush: hyperv }", policies: "[v3-skip-if-ipis-sent]"))["v3-skip-if-ipis-sent"];
        Assert.Equal(0, hyperv.FlushIpis);
        Assert.Equal((long)C * (N - 1), hyperv.SyncIpis);
        // INVLPGB: the first two flushes still IPI (global ASID assignment, then its transition), so
        // only their syncs are skipped; the later ones flush by INVLPGB and sync. Patched decides
        // once at boot that an INVLPGB machine always syncs.
        var invlpgb = Run(Scenario("platform: { invlpgb: true, global_asid_sampling: false }", policies: "[v3-skip-if-ipis-sent, patched]"));
        Assert.Equal((long)(C - 2) * (N - 1), invlpgb["v3-skip-if-ipis-sent"].SyncIpis);
        Assert.Equal((long)C * (N - 1), invlpgb["patched"].SyncIpis);
        // KVM's PV flush leaves preempted vCPUs 1-3 to the host: the flush missed them, so the sync runs.
        var kvm = Run(Scenario("platform: { flush: kvm }\nsteal_time:\n  - cpus: 1-3\n    period_us: 1000\n    duration_us: 999", policies: "[v3-skip-if-ipis-sent]"));
        Assert.Equal((long)C * (N - 1), kvm["v3-skip-if-ipis-sent"].SyncIpis);
    }

    [Fact]
    public void HugetlbSyncedEveryUnshareBeforeTheFixAndOnlyTheLastSharerSince()
    {
        string Unshares(string config) => $"""
            machine: small-64
            duration_us: 2000
            policies: [baseline]
            {config}
            processes:
              - name: owner
                cpus: 0
              - name: c1
                cpus: 1
              - name: c2
                cpus: 2
              - name: c3
                cpus: 3
            hugetlb_shares:
              - name: shm
                processes: [owner, c1, c2, c3]
            operations:
              - type: hugetlb_unshare
                process: c1
                cpu: 1
                at_us: [100]
              - type: hugetlb_unshare
                process: c2
                cpu: 2
                at_us: [500]
              - type: hugetlb_unshare
                process: c3
                cpu: 3
                at_us: [900]
            """;
        Assert.Equal(N - 1, Run(Unshares(""))["baseline"].SyncIpis);
        Assert.Equal(3 * (N - 1), Run(Unshares("kernel_config: { hugetlb_sync_every_unshare: true }"))["baseline"].SyncIpis);
    }

    /// <summary>
    /// A mapping of T = 3 shared PMD tables: each of 2 children unshares all T back to back
    /// (count). Before the fix, 2·T syncs; since, only the last child's T unshares, each of which
    /// leaves a table to its owner alone. A stream's count stops it: no operation past the T-th.
    /// </summary>
    [Theory]
    [InlineData(false, 3 * (N - 1))]
    [InlineData(true, 2 * 3 * (N - 1))]
    public void EachUnshareDropsOneOfTheSharedTablesAndCountEndsTheStream(bool syncEveryUnshare, int syncIpis)
    {
        var yaml = $"""
            machine: small-64
            duration_us: 2000
            policies: [baseline]
            kernel_config:
              hugetlb_sync_every_unshare: {(syncEveryUnshare ? "true" : "false")}
            processes:
              - name: owner
                cpus: 0
              - name: c1
                cpus: 1
              - name: c2
                cpus: 2
            hugetlb_shares:
              - name: shm
                tables: 3
                processes: [owner, c1, c2]
            operations:
              - type: hugetlb_unshare
                process: c1
                cpu: 1
                back_to_back: true
                start_us: 100
                count: 3
              - type: hugetlb_unshare
                process: c2
                cpu: 2
                back_to_back: true
                start_us: 900
                count: 3
            """;
        var s = Run(yaml)["baseline"];
        Assert.Equal(2 * 3, s.Count);
        Assert.Equal(syncIpis, s.SyncIpis);
        Assert.Equal(0, s.FlushIpis);
    }

    /// <summary>
    /// Before the concurrent-flush series the initiator flushed itself, then sent the IPIs: the
    /// same targets, and every remote flush starts one local flush_tlb_func() later.
    /// </summary>
    [Fact]
    public void LocalFlushBeforeRemoteSendsTheSameIpisLater()
    {
        LatencySummary Flushes(string config) => Run(Scenario(config, op: "flush_range", policies: "[baseline]"))["baseline"];
        var concurrent = Flushes("");
        var sequential = Flushes("kernel_config: { flush_local_before_remote: true }");
        Assert.Equal((long)C * (K - 1), concurrent.FlushIpis);
        Assert.Equal(concurrent.FlushIpis, sequential.FlushIpis);
        Assert.True(sequential.MeanNs > concurrent.MeanNs, $"sequential {sequential.MeanNs} ns, concurrent {concurrent.MeanNs} ns");
    }

    [Fact]
    public void MunmapFreesTablesWithoutSyncUnlessTheBatchFailsWithoutPtReclaim()
    {
        const string fails = "    batch_alloc_fail: 1";
        Assert.All(Run(Scenario("", op: "munmap_free_tables")).Values, s => Assert.Equal(0, s.SyncIpis));
        Assert.All(Run(Scenario("", op: "munmap_free_tables", opExtra: fails)).Values, s => Assert.Equal(0, s.SyncIpis));
        var ipi = Run(Scenario("kernel_config: { pt_reclaim: false, remove_table_one_fallback: sync_one }", op: "munmap_free_tables", opExtra: fails));
        Assert.Equal((long)C * (N - 1), ipi["baseline"].SyncIpis);
        Assert.Equal(0, ipi["patched"].SyncIpis);
        // synchronize_rcu(): no IPI, but the caller blocks a grace period (idle CPUs: the first FQS
        // scan, 3 jiffies on 64 CPUs at HZ=1000, with HZ set to 10 kHz here), unless the series skips it.
        var rcu = Run(Scenario("kernel_config: { pt_reclaim: false }\ncosts: { jiffy_ns: 100000 }", op: "munmap_free_tables", opExtra: fails));
        Assert.All(rcu.Values, s => Assert.Equal(0, s.SyncIpis));
        Assert.True(rcu["baseline"].P50Ns >= 300_000, rcu["baseline"].P50Ns.ToString());
        Assert.True(rcu["patched"].P50Ns < 300_000, rcu["patched"].P50Ns.ToString());
    }

    [Theory]
    [InlineData("retract_page_tables")]
    [InlineData("try_collapse_pte_mapped_thp")]
    public void PmdpGetLocklessSyncIsARealSyncOnlyOnPae(string op)
    {
        Assert.All(Run(Scenario("", op: op)).Values, s => Assert.Equal(0, s.SyncIpis));
        var pae = Run(Scenario("kernel_config: { gup_get_pxx_low_high: true }", op: op));
        Assert.Equal((long)C * (N - 1), pae["baseline"].SyncIpis);
        Assert.Equal(0, pae["patched"].SyncIpis);
        Assert.All(pae.Values, s => Assert.Equal((long)C * (K - 1), s.FlushIpis));
    }

    [Fact]
    public void SyncWithoutFlushSendsOnlyTheSync()
    {
        var r = Run(Scenario("", op: "sync_without_flush"));
        Assert.Equal(0, r["baseline"].FlushIpis);
        Assert.Equal((long)C * (N - 1), r["baseline"].SyncIpis);
        Assert.Equal(0, r["patched"].SyncIpis);
    }
}
