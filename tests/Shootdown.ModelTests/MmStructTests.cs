using Shootdown.Engine;
using Shootdown.Model.Kernel;
using Shootdown.Model.Simulation;

namespace Shootdown.Tests;

/// <summary>One mm_struct driven through an EntityRunner, as an mm grain drives it.</summary>
public sealed class MmStructTests
{
    private static readonly SimulationSetup Setup = Sim.Parse("""
        machine: small-64
        duration_us: 10
        processes:
          - name: db
            cpus: 0-3
        """).SetupFor(KernelPolicy.Baseline);

    private static SimEvent From(int cpu, long seq, long at, EventKind kind, long op = 0) =>
        new(at, kind, cpu, seq, Setup.MmEntityId(0), op, 0, 0, 0, 0);

    [Fact]
    public void SwitchInSetsTheBit_WrongCpuFlushClearsIt_FlushBumpsTlbGenAndSnapshotsTheMask()
    {
        var mm = new MmStruct(Setup, 0);
        var runner = new EntityRunner(mm, new SyncContract(Setup));
        runner.Deliver([new[]
        {
            From(2, 1, 100, EventKind.MmCpumaskSet, op: Scheduler.ThreadId(0, 0)),
            From(5, 1, 100, EventKind.MmCpumaskSet, op: Scheduler.ThreadId(0, 1)),
            From(5, 2, 200, EventKind.MmCpumaskClear),
            From(9, 1, 300, EventKind.MmFlushBegin, op: 42),
        }], []);
        runner.RunUntil(1_000, new EventBuffer());

        Assert.Equal(2, mm.TlbGen);
        Assert.Equal([2], mm.Cpumask.Cpus());
        Assert.Equal(new Dictionary<long, int> { [Scheduler.ThreadId(0, 0)] = 2, [Scheduler.ThreadId(0, 1)] = 5 }, mm.ThreadCpus);

        var (sent, masks) = runner.TakeSent();
        var e = Assert.Single(sent.ToArray());
        Assert.Equal(9, e.Target);
        Assert.Equal((EventKind.MmFlushMask, 42L, 2L, 300 + Setup.Costs.MmContextAccessNs), (e.Kind, e.Op, e.X, e.Time));
        var mask = Assert.Single(masks);
        Assert.Equal((9, e.Seq), (mask.Target, mask.Seq));
        Assert.Equal([2], mask.Mask.Cpus());
    }
}
