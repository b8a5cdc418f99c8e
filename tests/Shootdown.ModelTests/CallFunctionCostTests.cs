using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Xunit;

namespace Shootdown.Tests;

/// <summary>
/// kernel/smp.c's sender, priced by distance, and the IPI it sends only to cfd->cpumask_ipi;
/// the idle states an interrupt wakes a CPU from (kernel/sched/idle.c, drivers/cpuidle).
/// Closed forms, each from the difference between two runs that change one thing.
/// </summary>
public class CallFunctionCostTests
{
    /// <summary>
    /// Two packages of two cores, one NUMA hop apart; an op on CPU 0 of a process that runs there.
    /// csd_lock_wait() takes its misses one at a time (the default), so each transfer shows in the
    /// closed forms; <see cref="CsdLockWaitOverlapsTheMissesOfUnlockedCsds"/> lets them overlap.
    /// </summary>
    private static PolicyResult Run(string op, string extra = "", string cpus = "0", string platform = "cpuidle: off") => Sim.Run($"""
        machine: pack:2 numa:1 core:2 pu:1
        duration_us: 100
        platform:
          {platform}
        {extra}
        processes:
          - name: p
            cpus: {cpus}
        operations:
          - type: {op}
            process: p
            cpu: 0
            at_us: [10]
        """, KernelPolicy.Baseline);

    private static long Latency(PolicyResult r) => r.Ops.Single().LatencyNs;

    [Fact]
    public void EachTargetCostsTheSenderItsTransfersByDistance()
    {
        // A sync to CPUs 1-3 (no cond_func): csd_lock() and llist_add() in the loop, one more in
        // csd_lock_wait(). CPUs 2 and 3 are a hop away; 100 ns more per hop is 2·(2 + 1)·100.
        var near = Latency(Run("sync_without_flush"));
        var far = Latency(Run("sync_without_flush", "costs:\n  cache_line_per_numa_hop_ns: 157"));
        Assert.Equal(600, far - near);
    }

    /// <summary>
    /// Where the sender's time goes: the 600 ns that the farther targets add fall into the loop
    /// (csd_lock() and llist_add(): 2·2·100) and csd_lock_wait() (2·100), nothing else moves.
    /// </summary>
    [Fact]
    public void TheLoopAndTheWaitTakeTheTransfersTheyPayFor()
    {
        var near = Run("sync_without_flush").Ops.Single();
        var far = Run("sync_without_flush", "costs:\n  cache_line_per_numa_hop_ns: 157").Ops.Single();
        Assert.Equal(400, far.Time.LoopNs - near.Time.LoopNs);
        Assert.Equal(200, far.Time.WaitNs - near.Time.WaitNs);
        Assert.Equal((near.Time.IpiSendNs, near.Time.LocalFuncNs), (far.Time.IpiSendNs, far.Time.LocalFuncNs));
        Assert.Equal(near.LatencyNs - near.Time.CallsNs, far.LatencyNs - far.Time.CallsNs);
    }

    [Fact]
    public void CsdLockWaitOverlapsTheMissesOfUnlockedCsds()
    {
        // A broadcast from CPU 0 of a 64-CPU machine: the 63 csds unlock at about the same time,
        // so csd_lock_wait() finds most already unlocked and their misses overlap, ten at a time.
        long Wait(int inFlight, string more = "") => Sim.Run($"""
            machine: small-64
            duration_us: 100
            platform:
              cpuidle: off
            costs:
              csd_lock_wait_misses_in_flight: {inFlight}{more}
            processes:
              - name: p
                cpus: 0
            operations:
              - type: sync_without_flush
                process: p
                cpu: 0
                at_us: [10]
            """, KernelPolicy.Baseline).Ops.Single().Time.WaitNs;
        var serial = Wait(1);
        var overlapped = Wait(10);
        Assert.True(overlapped < serial, $"{overlapped} vs {serial}");
        // It saves at most the transfers it overlaps (63 of them, 51 to 108 ns each), never more.
        Assert.InRange(serial - overlapped, 1, 63 * 108);
        // With free transfers there is nothing to overlap.
        const string free = "\n  cache_line_smt_sibling_ns: 1\n  cache_line_same_l3_ns: 1\n  cache_line_same_package_ns: 1\n  cache_line_per_numa_hop_ns: 0";
        Assert.InRange(Wait(1, free) - Wait(10, free), 0, 63);
    }

    /// <summary>Every CPU's stolen time is its interrupts' way in and out plus their handlers, on a busy run with idle, user-mode and RT CPUs.</summary>
    [Fact]
    public void StolenTimeSplitsIntoEntryExitAndHandlers()
    {
        var scenario = Scenarios.ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml"));
        foreach (var r in Sim.RunEveryPolicy(scenario).Values)
        {
            Assert.All(r.Cpus, c => Assert.Equal(c.StolenNs, c.EntryExitNs + c.HandlerNs));
            Assert.Contains(r.Cpus, c => c.HandlerNs > 0 && c.EntryExitNs > 0);
            Assert.All(r.Ops, o => Assert.InRange(o.Time.CallsNs, 0, o.LatencyNs));
            Assert.All(r.Ops, o => Assert.True(o.Time.LoopNs >= 0 && o.Time.IpiSendNs >= 0 && o.Time.LocalFuncNs >= 0 && o.Time.WaitNs >= 0));
        }
    }

    [Fact]
    public void CondFuncReadsEachCandidatesTlbStateToo()
    {
        // A one-page flush to CPUs 1-3, which run the process: should_flush_tlb() adds one transfer per target.
        var near = Latency(Run("flush_range\n    pages: 1", cpus: "0-3"));
        var far = Latency(Run("flush_range\n    pages: 1", "costs:\n  cache_line_per_numa_hop_ns: 157", cpus: "0-3"));
        Assert.Equal(2 * (3 + 1) * 100, far - near);
    }

    [Fact]
    public void OneTargetPollingIdleGetsNoIpi()
    {
        // send_call_function_single_ipi(): a CPU idle in an MWAIT state polls its thread flags, so
        // it is woken by need_resched and runs the csd from the idle loop, with no interrupt.
        const string twoCpus = "machine: pack:1 core:2 pu:1";
        PolicyResult Sync(string cpuidle) => Sim.Run($"""
            {twoCpus}
            duration_us: 100
            platform:
              cpuidle: {cpuidle}
            processes:
              - name: p
                cpus: 0
            operations:
              - type: sync_without_flush
                process: p
                cpu: 0
                at_us: [10]
            """, KernelPolicy.Baseline);
        var mwait = Sync("spr").Cpus[1];
        Assert.Equal((0, 1), (mwait.Cal, mwait.SyncCsdsHandled));
        var halt = Sync("halt").Cpus[1];
        Assert.Equal((1, 1), (halt.Cal, halt.SyncCsdsHandled));
    }

    [Fact]
    public void SeveralTargetsGetTheIpiEvenWhenPolling()
    {
        // send_call_function_ipi_mask() does not look at polling: CPUs 1-3 each take the interrupt.
        var r = Run("sync_without_flush", platform: "cpuidle: spr");
        Assert.All(r.Cpus.Skip(1), c => Assert.Equal(1, c.Cal));
    }

    [Theory]
    // With no history the governor picks C6. Under spr its 290 µs is package C6's worst case
    // (spr_idle_state_table_update()): CPUs 2-3 are on a package nothing is placed on, which goes
    // down with them; CPU 1 shares its package with CPU 0, where the process runs, and leaves core
    // C6 at 190 µs. With package C6 off in the BIOS the table itself says 190 µs.
    [InlineData("spr", 190_000, 290_000)]
    [InlineData("spr-pc6-off", 190_000, 190_000)]
    public void C6ExitsAtThePackageOrTheCoreWorstCase(string table, long busyPackageNs, long idlePackageNs)
    {
        var r = Run("sync_without_flush", platform: $"cpuidle: {table}");
        Assert.Equal([busyPackageNs, idlePackageNs, idlePackageNs], r.Cpus.Skip(1).Select(c => c.IdleExitNs));
    }

    [Fact]
    public void AThreadThatMayMigrateThereKeepsAPackageOutOfPackageC6()
    {
        // The process's one thread starts on CPU 0 but may move to any of CPUs 0-3, so package 1
        // is not taken to go down: every target leaves core C6. The governor chose C6 from the
        // same table (290/800 µs) either way.
        var r = Sim.Run("""
            machine: pack:2 numa:1 core:2 pu:1
            duration_us: 100
            platform:
              cpuidle: spr
            processes:
              - name: p
                threads: 1
                cpus: 0-3
                migrate_us: 1000000
            operations:
              - type: sync_without_flush
                process: p
                cpu: 0
                at_us: [10]
            """, KernelPolicy.Baseline);
        Assert.All(r.Cpus.Skip(1), c => Assert.Equal(190_000, c.IdleExitNs));
    }

    [Fact]
    public void AnIdleCpuPaysItsStatesExitLatencyAndTheTicksRestart()
    {
        // HLT, chosen with no history (an unknown idle time is long): 1 µs out, and the tick the
        // governor stopped is restarted. Every target waits alike, so the sync is that much later.
        var awake = Latency(Run("sync_without_flush"));
        var halted = Run("sync_without_flush", platform: "cpuidle: halt");
        Assert.Equal(1_000 + 500, Latency(halted) - awake);
        Assert.All(halted.Cpus.Skip(1), c => Assert.Equal(1_000, c.IdleExitNs));
        // A PM QoS limit under HLT's exit latency keeps the CPUs polling, tick on: no cost.
        Assert.Equal(awake, Latency(Run("sync_without_flush", platform: "cpuidle: halt\n  cpuidle_latency_limit_us: 0.5")));
    }

    [Fact]
    public void AnInterruptInUserModePaysTheWayInAndOut()
    {
        // CPUs 1-3 run a thread of another process in user mode instead of idling.
        var idle = Latency(Run("sync_without_flush"));
        var busy = Latency(Sim.Run("""
            machine: pack:2 numa:1 core:2 pu:1
            duration_us: 100
            platform:
              cpuidle: off
            processes:
              - name: p
                cpus: 0
              - name: user
                threads: 3
                cpus: 1-3
            operations:
              - type: sync_without_flush
                process: p
                cpu: 0
                at_us: [10]
            """, KernelPolicy.Baseline));
        Assert.Equal(new Model.Costs.CostModel().InterruptFromUserNs, busy - idle);
    }
}

/// <summary>drivers/cpuidle/governors/menu.c as <see cref="CpuIdle"/> runs it.</summary>
public class MenuGovernorTests
{
    private static CpuIdle IdleCpu(string cpuidle = "spr")
    {
        var scenario = Sim.Parse($"""
            machine: pack:1 core:2 pu:1
            duration_us: 100
            platform:
              cpuidle: {cpuidle}
            processes:
              - name: p
                cpus: 0
            """);
        return new Cpu(scenario.SetupFor(scenario.Policies[0]), 1).Idle;
    }

    [Fact]
    public void WithNoHistoryTheDeepestStateIsChosenAndShortIdlePeriodsTeachShallowerOnes()
    {
        // CPU 1 shares its package with the process on CPU 0: C6 out at the core's 190 µs.
        var idle = IdleCpu();
        idle.DoIdle(0);
        Assert.Equal(190_000, idle.Wake(1_000_000));
        // Eight idle periods of 50 µs: a steady prediction of 50 µs (less C6's exit, which was
        // large beside the first) picks C1E, whose 4 µs target residency fits and C6's 800 µs does not.
        var t = 2_000_000L;
        for (var i = 0; i < 8; i++)
        {
            idle.DoIdle(t);
            idle.Wake(t += 50_000);
            t += 1_000;
        }
        idle.DoIdle(t);
        Assert.Equal(2_000, idle.Wake(t + 50_000));
    }

    [Fact]
    public void UnderATightLatencyLimitTheCpuPollsForGood()
    {
        var idle = IdleCpu("spr\n  cpuidle_latency_limit_us: 0.5");
        idle.DoIdle(0);
        Assert.True(idle.Polling(10_000_000));
        Assert.Equal(0, idle.Wake(10_000_000));
    }

    [Fact]
    public void PollSpinsForTheNextStatesTargetResidencyThenSleepsInIt()
    {
        // A PM QoS limit of 100 µs rules C6 out. Idle periods of 3 µs (in C1E: 5 µs measured with
        // its exit, 3 µs less it) and then 0.5 µs (in POLL: 0 µs): a typical interval of 0 µs.
        var idle = IdleCpu("spr\n  cpuidle_latency_limit_us: 100");
        var t = 0L;
        for (var i = 0; i < 8; i++)
        {
            idle.DoIdle(t);
            idle.Wake(t += i == 0 ? 3_000 : 500);
            t += 100;
        }
        idle.DoIdle(t);
        Assert.True(idle.Polling(t + 500));
        // Past C1's 1 µs target residency the loop goes round and the CPU is in C1 (MWAIT: still polling its flags).
        Assert.True(idle.Polling(t + 1_500));
        Assert.Equal(1_000, idle.Wake(t + 1_500));
    }
}
