using Shootdown.Model.Results;
using Shootdown.Model.Workload;
using Shootdown.Scenarios;
using Shootdown.Model.Safety;

namespace Shootdown.Tests;

/// <summary>
/// The shipped safety scenarios give the answers docs/safety.md states for the thread's arguments:
/// which policies keep the invariant (0 violations) and which break it, on which walker, and why.
/// </summary>
public sealed class SafetyScenarioTests
{
    /// <summary>Scenario file, then each policy's expectation: true when violations must be found.</summary>
    public static TheoryData<string, string> Expectations => new()
    {
        { "native-x86.yaml", "baseline=0 patched=0 always-skip=0" },
        { "invlpgb.yaml", "baseline=0 patched=0 always-skip=violations" },
        { "kvm-pv.yaml", "baseline=0 patched=0 always-skip=violations" },
        { "hugetlb-sharers-kvm.yaml", "baseline=0 patched=0 always-skip=violations v3-skip-if-ipis-sent=violations sync-rcu-expedited=0 sync-rcu=0" },
        { "sync-without-flush.yaml", "baseline=0 patched=violations" },
        { "pae-kswapd.yaml", "baseline=0 patched=0" },
        { "pae-kvm-preempted.yaml", "baseline=0 patched=violations" },
        { "pae-kswapd-stalled.yaml", "baseline=0 patched=violations v3-skip-if-ipis-sent=violations sync-rcu-expedited=0 sync-rcu=0" },
        { "pae-kswapd-no-rcu-table-free.yaml", "baseline=violations patched=violations" },
        { "rcu-walkers.yaml", "baseline=0 patched=violations" },
        { "rcu-walkers-ipi-fallback.yaml", "baseline=violations patched=violations" },
        { "rcu-walkers-pt-reclaim.yaml", "baseline=0 patched=0" },
    };

    private static Dictionary<string, PolicyResult> RunAll(string file) =>
        Sim.RunEveryPolicy(ScenarioLoader.LoadFile(Sim.ScenarioPath(Path.Combine("safety", file))));

    [Theory]
    [MemberData(nameof(Expectations))]
    public void ShippedSafetyScenarioGivesTheStatedResult(string file, string expected)
    {
        var results = RunAll(file);
        foreach (var pair in expected.Split(' '))
        {
            var (policy, verdict) = (pair.Split('=')[0], pair.Split('=')[1]);
            var safety = results[policy].Safety!;
            Assert.True(safety.Walks > 100, $"{file} {policy}: only {safety.Walks} walks");
            if (verdict == "0") Assert.Equal(0, safety.ViolationCount);
            else Assert.True(safety.ViolationCount > 0, $"{file} {policy}: expected violations, got {safety.Verdict}");
            // Every listed counterexample is a real one: the walk began before the operation
            // started and was still running at the retire, which is this operation's end, or,
            // for a hugetlb sharer that left a table others shared, the last sharer's.
            foreach (var v in safety.Violations)
            {
                var ops = results[policy].Ops;
                var op = ops.Single(o => o.Initiator == v.Initiator && o.Serial == v.OpSerial);
                Assert.True(v.WalkStartNs < op.StartNs && v.WalkEndNs > v.TimeNs, v.ToString());
                Assert.True(v.TimeNs <= op.EndNs || op.Type == OpType.HugetlbUnshare && ops.Any(o => o.Type == OpType.HugetlbUnshare && o.EndNs >= v.TimeNs && o.StartNs > op.StartNs), v.ToString());
            }
        }
    }

    [Fact]
    public void CounterexamplesSayWhyNothingDrainedTheWalker()
    {
        Assert.Contains("INVLPGB", RunAll("invlpgb.yaml")["always-skip"].Safety!.Violations[0].Why);
        Assert.Contains("preempted", RunAll("kvm-pv.yaml")["always-skip"].Safety!.Violations[0].Why);
        Assert.Contains("no TLB flush preceded the sync", RunAll("sync-without-flush.yaml")["patched"].Safety!.Violations[0].Why);
        var pae = RunAll("pae-kswapd-stalled.yaml")["patched"].Safety!.Violations[0];
        Assert.Equal(WalkerKind.PaePmdpGetLockless, pae.Walker);
        Assert.Contains("not in mm_cpumask", pae.Why);
        Assert.Contains("tlb_table_flush_implies_ipi_broadcast", pae.Why);
        var rcu = RunAll("rcu-walkers-ipi-fallback.yaml")["baseline"].Safety!.Violations[0];
        Assert.Equal(WalkerKind.RcuPteOffsetMap, rcu.Walker);
        Assert.Contains("RCU walker is not ended by an interrupt", rcu.Why);
    }

    [Fact]
    public void WithoutRcuTableFreeBaselineBreaksExactlyWherePatchedDoes()
    {
        // Lance Yang's analogy, as the model sees it: with the sync an empty inline, baseline
        // finds the very violations the patched kernel finds with RCU_TABLE_FREE=y.
        var patched = RunAll("pae-kswapd-stalled.yaml")["patched"].Safety!;
        var noRcu = RunAll("pae-kswapd-no-rcu-table-free.yaml");
        Assert.Equal(patched.ViolationCount, noRcu["baseline"].Safety!.ViolationCount);
        Assert.Equal(patched.Violations.Select(v => (v.Cpu, v.WalkStartNs, v.OpSerial)), noRcu["baseline"].Safety!.Violations.Select(v => (v.Cpu, v.WalkStartNs, v.OpSerial)));
    }

    /// <summary>
    /// Peter Zijlstra's point, audited over the model's real callers: every collapse, hugetlb unshare,
    /// munmap fallback and retract_page_tables() that reaches the sync has flushed the mm first
    /// (pmdp_collapse_flush(), tlb_flush_unshared_tables() or the intermediate tlb_flush_mmu() before it,
    /// tlb_table_invalidate()), so only the what-if caller syncs with no flush.
    /// </summary>
    [Theory]
    [InlineData("native-x86.yaml")]
    [InlineData("rcu-walkers-ipi-fallback.yaml")]
    [InlineData("pae-kswapd-stalled.yaml")]
    [InlineData("hugetlb-sharers-kvm.yaml")]
    [InlineData("sync-without-flush.yaml")]
    public void EveryRealCallerFlushesBeforeItsSync(string file)
    {
        var scenario = ScenarioLoader.LoadFile(Sim.ScenarioPath(Path.Combine("safety", file)));
        var setup = scenario.SetupFor(scenario.Policies.Single(p => p.Name == "baseline"));
        var engine = new Engine.ReferenceEngine(setup);
        engine.Run(cancellation: TestContext.Current.CancellationToken);
        var retires = engine.Cpus.SelectMany(c => c.Retires).Where(r => r.Sync != "no sync on this path").ToList();
        Assert.NotEmpty(retires);
        Assert.All(retires, r => Assert.Equal(r.Op == OpType.SyncWithoutFlush, r.Flush == Model.Safety.TlbFlushMechanism.None));
    }

    [Fact]
    public void ScenariosWithoutWalkersHaveNoSafetyReport()
    {
        var scenario = ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml"));
        Assert.Null(new Engine.ReferenceEngine(scenario.SetupFor(scenario.Policies[0])).Run(cancellation: TestContext.Current.CancellationToken).Safety);
    }
}

/// <summary>The invariant itself, on hand-made walks and retires.</summary>
public sealed class SafetyCheckerTests
{
    private static readonly Model.Kernel.SimulationSetup Setup = Sim.Parse("""
        machine: small-64
        duration_us: 100
        processes:
          - name: a
            cpus: 0-3
          - name: b
            cpus: 4-7
        """).SetupFor(Model.Kernel.KernelPolicy.Patched);

    private static Model.Safety.TableRetire Retire(long clear, long retire, Model.Safety.RetireHazard hazard = Model.Safety.RetireHazard.IrqOffWalkers, bool rcu = false, int process = 0) =>
        new(0, 1, OpType.CollapseHugePage, process, clear, retire, hazard, rcu, Model.Safety.TlbFlushMechanism.Invlpgb, clear, null,
            new Model.Topology.CpuMask.Builder(64).ToMask(), "skipped");

    private static long Violations(Model.Safety.WalkRecord walk, Model.Safety.TableRetire retire) =>
        Model.Safety.SafetyChecker.CheckCpu(Setup.SafetyRun, [walk], Model.Safety.SafetyChecker.Order([retire])).ViolationCount;

    [Fact]
    public void AWalkThatBeganBeforeTheClearAndOutlivesTheRetireIsAViolation() =>
        Assert.Equal(1, Violations(new(5, WalkerKind.GupFast, 0, 10, 50), Retire(20, 40)));

    [Theory]
    [InlineData(25, 50)] // began after the clear: it cannot hold the old entry
    [InlineData(10, 40)] // ended by the retire
    [InlineData(10, 19)] // ended before the clear
    public void WalksThatCannotSeeTheOldTableAtItsRetireAreSafe(long start, long end) =>
        Assert.Equal(0, Violations(new(5, WalkerKind.GupFast, 0, start, end), Retire(20, 40)));

    [Fact]
    public void OnlyTheRetiringProcessesWalkersOfTheEndangeredKindsCount()
    {
        Assert.Equal(0, Violations(new(5, WalkerKind.GupFast, 1, 10, 50), Retire(20, 40)));
        Assert.Equal(0, Violations(new(5, WalkerKind.RcuPteOffsetMap, 0, 10, 50), Retire(20, 40)));
        Assert.Equal(0, Violations(new(5, WalkerKind.GupFast, 0, 10, 50), Retire(20, 40, Model.Safety.RetireHazard.PaeReaders)));
        Assert.Equal(1, Violations(new(5, WalkerKind.RcuPteOffsetMap, 0, 10, 50), Retire(20, 40, Model.Safety.RetireHazard.AllWalkers)));
        Assert.Equal(0, Violations(new(5, WalkerKind.RcuPteOffsetMap, 0, 10, 50), Retire(20, 40, Model.Safety.RetireHazard.AllWalkers, rcu: true)));
    }

    /// <summary>
    /// Process 0 leaves a shared hugetlb table at 20 (its unshare ends at 25, the table still
    /// shared); process 1, the last sharer, leaves at 30 and the owner may reuse it from 45. A walk
    /// of process 0 begun before 20 is in danger until 45, not 25.
    /// </summary>
    [Theory]
    [InlineData(10, 40, 0)] // gone before the last sharer left
    [InlineData(10, 50, 1)] // still in the table when it may be reused
    [InlineData(21, 50, 0)] // began after its process dropped the table
    public void ASharersWalkIsInDangerUntilTheLastSharerLeaves(long start, long end, long violations)
    {
        var left = Retire(20, 25, process: 0) with { Op = OpType.HugetlbUnshare, Share = 7, FreesTable = false };
        var last = Retire(30, 45, process: 1) with { Op = OpType.HugetlbUnshare, Share = 7 };
        var walk = new Model.Safety.WalkRecord(5, WalkerKind.GupFast, 0, start, end);
        Assert.Equal(violations, Model.Safety.SafetyChecker.CheckCpu(Setup.SafetyRun, [walk], Model.Safety.SafetyChecker.Order([left, last])).ViolationCount);
    }
}
