using Shootdown.Engine;
using Shootdown.Model.Kernel;
using Shootdown.Model.Simulation;
using Shootdown.Protocol;

namespace Shootdown.Tests;

/// <summary>The engine's window protocol on its own: partitions, safe times per kind of entity, batches, and the lookahead check.</summary>
public sealed class WindowProtocolTests
{
    /// <summary>64 CPUs (ids 0-63) and two mms (64, 65), with a process that migrates and one that does not.</summary>
    private static readonly SimulationSetup Setup = Sim.Parse("""
        machine: small-64
        duration_us: 100
        processes:
          - name: db
            threads: 4
            cpus: 0-3
          - name: web
            threads: 4
            cpus: 32-35
            migrate_us: 50
        """).SetupFor(KernelPolicy.Baseline);

    private static readonly SyncContract Contract = new(Setup);

    private static SimEvent Event(long at, EventKind kind, int source, int target, long op = 0, long x = 0, long seq = 1) =>
        new(at, kind, source, seq, target, op, 0, x, 0, 0);

    [Fact]
    public void PartitionsDealOutBlocksOfNeighbouringCpusAndTheMms()
    {
        // 64 CPUs in 3 partitions: blocks of 21, dealt out in turn; CPU 63 starts a fourth block.
        var map = new PartitionMap(64, 2, 3);
        Assert.Equal(Enumerable.Range(0, 66), Enumerable.Range(0, 3).SelectMany(p => map.MembersOf(p)).Order());
        Assert.Equal([0, 21, 42], Enumerable.Range(0, 3).Select(p => map.MembersOf(p)[0]));
        Assert.Equal((0, 0, 1, 2, 0), (map.PartitionOf(0), map.PartitionOf(20), map.PartitionOf(21), map.PartitionOf(62), map.PartitionOf(63)));
        Assert.Equal((0, 1), (map.PartitionOf(64), map.PartitionOf(65)));
        // 8192 CPUs in 2 partitions: blocks of 64, so CPUs 0-255 are spread over both.
        var large = new PartitionMap(8192, 1, 2);
        Assert.Equal([0, 1, 0, 1], Enumerable.Range(0, 4).Select(b => large.PartitionOf(b * 64)));
        Assert.All(Enumerable.Range(0, 64), c => Assert.Equal(0, large.PartitionOf(c)));
        Assert.Equal(4096, large.MembersOf(1).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PartitionMap(64, 2, 65));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PartitionMap(64, 2, 0));
    }

    /// <summary>
    /// What the model says each kind of event can write, and when: a cpumask update writes
    /// nothing back, a walk writes nothing, and the scheduler writes a CPU only by migrating.
    /// </summary>
    [Fact]
    public void EarliestOutputsFollowWhatEachEventCanWrite()
    {
        var costs = Setup.Costs;
        var mm = Setup.MmEntityId(0);
        Assert.Equal(EntityTimes.Never, Contract.EarliestOutput(Event(1_000, EventKind.MmCpumaskSet, 2, mm)));
        Assert.Equal(EntityTimes.Only(cpu: true, 1_000 + costs.MmContextAccessNs), Contract.EarliestOutput(Event(1_000, EventKind.MmFlushBegin, 2, mm)));
        Assert.Equal(EntityTimes.Never, Contract.EarliestOutput(Event(1_000, EventKind.WalkBegin, 2, 2)));
        // db never migrates: its thread events write its mm only; web's may move a thread to another CPU.
        Assert.Equal(new EntityTimes(long.MaxValue, 1_000 + costs.MmContextAccessNs),
            Contract.EarliestOutput(Event(1_000, EventKind.ThreadSleep, 2, 2, op: Scheduler.ThreadId(0, 2))));
        Assert.Equal(new EntityTimes(1_000 + costs.MigrationNs, 1_000 + costs.MmContextAccessNs),
            Contract.EarliestOutput(Event(1_000, EventKind.ThreadSleep, 33, 33, op: Scheduler.ThreadId(1, 1))));
        // A csd landing only answers its sender, at the end of the sender's loop; it writes no mm.
        var csd = Event(1_000, EventKind.CsdQueue, 5, 9, x: 3_000) with { Flags = CsdQueued.Flags(Csd.Sync(Cpu.InitMm, CsdCond.None, fromKhugepaged: false)) };
        Assert.Equal(new EntityTimes(3_000, long.MaxValue), Contract.EarliestOutput(csd));
        // An IPI's csds are acked once sysvec_call_function has entered.
        Assert.Equal(EntityTimes.Both(1_000 + costs.InterruptEntryNs + Contract.Lookahead), Contract.EarliestOutput(Event(1_000, EventKind.InterruptRaise, 5, 9)));
    }

    /// <summary>A CPU that receives something at the CPU safe time may write an mm one interaction later: the mm safe time never passes that.</summary>
    [Fact]
    public void TheMmSafeTimeNeverPassesTheCpuSafeTimeByMoreThanOneInteraction()
    {
        Assert.Equal(new EntityTimes(1_000, 1_000 + Contract.Lookahead), Contract.SafeTimes(new EntityTimes(1_000, long.MaxValue)));
        Assert.Equal(new EntityTimes(1_000, 900), Contract.SafeTimes(new EntityTimes(1_000, 900)));
        Assert.Equal(new EntityTimes(long.MaxValue, 5_000), Contract.SafeTimes(new EntityTimes(long.MaxValue, 5_000)));
    }

    /// <summary>
    /// A CPU whose only work concerns mms is not held back by them, and a schedule lagging far
    /// behind its safe time is caught up in one call; an entity whose output is not due waits.
    /// </summary>
    [Fact]
    public void MembersRunWhenAnOutputIsDueOrTheirEventsLagFarBehind()
    {
        var scheduler = new WindowScheduler(4, Contract);
        // 0: a csd whose interrupt is taken at 10 µs; 1: a thread schedule writing only its mm;
        // 2: the same, lagging far behind; 3: an mm holding cpumask updates only.
        scheduler.Set(0, new Frontier(EntityTimes.Both(10_000), EntityTimes.Only(cpu: true, 9_000)));
        scheduler.Set(1, new Frontier(new EntityTimes(long.MaxValue, 20_100), EntityTimes.Only(cpu: true, 20_000)));
        scheduler.Set(2, new Frontier(new EntityTimes(long.MaxValue, 5_000_100), EntityTimes.Only(cpu: true, 5_000_000)));
        scheduler.Set(3, new Frontier(EntityTimes.Never, EntityTimes.Only(cpu: false, 4_000)));
        Assert.True(scheduler.TryNextWindow(out var safe, out var due));
        Assert.Equal(EntityTimes.Both(10_000), safe);
        Assert.Equal([0], due);

        // The csd's CPU has nothing left: CPUs are safe until the far schedule could migrate, i.e. never.
        scheduler.Set(0, Frontier.Idle);
        Assert.True(scheduler.TryNextWindow(out safe, out due));
        Assert.Equal(new EntityTimes(long.MaxValue, 20_100), safe);
        // Member 1 writes its mm soonest; member 2 lags more than the catch-up lag behind CPU time (never).
        Assert.Equal([1, 2], due);
        scheduler.Set(1, Frontier.Idle);
        scheduler.Set(2, Frontier.Idle);

        // Nothing can write anyone any more: whoever still holds events runs to the end.
        Assert.True(scheduler.TryNextWindow(out safe, out due));
        Assert.Equal(EntityTimes.Never, safe);
        Assert.Equal([3], due);
        scheduler.Set(3, Frontier.Idle);
        Assert.False(scheduler.TryNextWindow(out _, out _));
        Assert.Equal(3, scheduler.Windows);
    }

    /// <summary>
    /// After a window, a partition sends each other partition one batch holding everything its
    /// entities sent there, and keeps what they sent each other for their own next call.
    /// </summary>
    [Fact]
    public void APartitionSendsOneBatchPerOtherPartitionAndKeepsItsOwnTraffic()
    {
        var map = new PartitionMap(64, 2, 4);
        var windows = new PartitionWindows(Contract, map, 0);
        var acks = Enumerable.Range(0, 12).Select(i =>
            Event(2_000 + i, EventKind.CsdAck, source: i % 3, target: 16 + 4 * i, seq: i + 1)).ToArray();
        windows.Route(acks, []);
        var batches = windows.TakeOutgoing().Select(b => (b.Partition, Events: b.Events.SelectMany(run => run.ToArray()).ToArray(), b.Frontier)).ToList();
        Assert.Equal([1, 2, 3], batches.Select(b => b.Partition));
        Assert.All(batches, b => Assert.All(b.Events, e => Assert.Equal(b.Partition, map.PartitionOf(e.Target))));
        Assert.Equal(acks.Count(e => map.PartitionOf(e.Target) != 0), batches.Sum(b => b.Events.Length));
        Assert.All(batches, b => Assert.Equal(b.Events.Min(e => e.Time) + Contract.Lookahead, b.Frontier.Output.Cpu));
        Assert.Empty(windows.TakeOutgoing());

        // Every ack above left the partition; a CPU of this partition keeps its own events.
        windows.Route([Event(3_000, EventKind.CsdAck, source: 1, target: 7)], []);
        var due = Assert.Single(windows.TakeDue(EntityTimes.Both(3_000)));
        Assert.Equal((7, 1, 3_000L), (due.Entity, due.Events.Count, due.RunTo));
    }

    /// <summary>
    /// In process a partition puts an event straight into its entity's queue: the first sixteen
    /// between two runs of the entity, in the order they come; the rest of a burst waits in the
    /// inbox, to be handed over in one delivery when the entity is due. Either way the inbox's
    /// frontier counts every event, so the entity is due when it would be otherwise.
    /// </summary>
    [Fact]
    public void APartitionInProcessGivesAnEntityItsFirstSixteenEventsAtOnce_AndHoldsTheRestOfABurst()
    {
        var delivered = new RecordingDelivery();
        var windows = new PartitionWindows(Contract, new PartitionMap(64, 2, 4), 0, immediate: delivered);
        var acks = Enumerable.Range(0, 20).Select(i => Event(2_000 + i, EventKind.CsdAck, source: 4, target: 3, seq: i + 1)).ToArray();
        windows.Route(acks, []);
        Assert.Equal(acks[..16], delivered.Events.Select(d => d.Event));
        Assert.All(delivered.Events, d => Assert.Equal(3, d.Entity));
        Assert.Equal(2_000, windows.Frontier.Next.Cpu);

        var due = Assert.Single(windows.TakeDue(EntityTimes.Both(3_000)));
        Assert.Equal((3, 4), (due.Entity, due.Events.Count));
        Assert.Equal(acks[16..], due.Events.Runs().SelectMany(r => r.ToArray()));
        windows.Handed(due.Events);

        // Once the entity has been due, the next event goes to it at once again.
        windows.Route([Event(4_000, EventKind.CsdAck, source: 4, target: 3, seq: 21)], []);
        Assert.Equal(17, delivered.Events.Count);
        Assert.Throws<InvalidOperationException>(() => windows.Waiting());
    }

    private sealed class RecordingDelivery : IImmediateDelivery
    {
        public List<(int Entity, SimEvent Event)> Events { get; } = new();

        public void DeliverNow(int entity, in SimEvent e) => Events.Add((entity, e));
    }

    /// <summary>
    /// A batch can come before, while or after its partition runs the window it was sent in
    /// (partitions run side by side). It waits until the partition has reported that window, so
    /// neither the partition's choice of due entities nor its report depends on which thread came
    /// first (the coordinator counts the batch meanwhile); one that comes later is taken at once.
    /// </summary>
    [Fact]
    public async Task ABatchWaitsUntilItsPartitionHasReportedTheWindowItWasSentIn()
    {
        var entities = new RecordingTransport();
        var protocol = new PartitionProtocol(new PartitionWindows(Contract, new PartitionMap(64, 2, 4), 0), entities);
        // CPU 3 is partition 0's; the ack was sent in window 1, which this partition has not begun.
        protocol.Deliver([new[] { Event(2_000, EventKind.CsdAck, source: 4, target: 3) }], ReadOnlyMemory<MaskAttachment>.Empty, window: 1);
        Assert.Equal(Frontier.Idle, protocol.Windows.Frontier);

        var first = await protocol.RunWindow(EntityTimes.Both(3_000), window: 1);
        Assert.Empty(entities.Due[0]);
        Assert.Equal(Frontier.Idle, first.Frontier);
        await protocol.RunWindow(EntityTimes.Both(3_000), window: 2);
        Assert.Equal((3, 1), (entities.Due[1].Single().Entity, entities.Due[1].Single().Events.Count));

        // Sent in window 2, which this partition has reported: taken at once.
        protocol.Deliver([new[] { Event(4_000, EventKind.CsdAck, source: 4, target: 2, seq: 2) }], ReadOnlyMemory<MaskAttachment>.Empty, window: 2);
        Assert.Equal(4_000, protocol.Windows.Frontier.Next.Cpu);
        // Sent in window 3: held, and still part of what waits at a barrier.
        protocol.Deliver([new[] { Event(5_000, EventKind.CsdAck, source: 4, target: 1, seq: 3) }], ReadOnlyMemory<MaskAttachment>.Empty, window: 3);
        Assert.Equal([2, 1], protocol.Waiting().Events.SelectMany(m => m.ToArray()).Select(e => e.Target).Order().Reverse());
    }

    /// <summary>
    /// An IPI that reaches a CPU first while it sleeps in an idle state is taken once the CPU has
    /// left it: its bound counts the CPU's wake latency, so the CPU is not run for the IPI alone
    /// and again for its deferred dispatch, but once, when the safe time has passed both. The bound
    /// holds only while nothing else reaches the CPU at or before the IPI, nor its own next event.
    /// </summary>
    [Fact]
    public void AnIpiReachingAnIdleCpuFirstIsBoundedByItsWakeLatencyUntilSomethingEarlierArrives()
    {
        const long wake = 290_000;
        var costs = Setup.Costs;
        var windows = new PartitionWindows(Contract, new PartitionMap(64, 2, 4), 0);
        // CPU 3 sleeps in C6 with nothing of its own pending; CPU 4 is idle too, but its own timer comes at 5 µs.
        windows.Ran(3, Frontier.Idle, 0, 0, wakeLatency: wake);
        windows.Ran(4, new Frontier(EntityTimes.Never, EntityTimes.Only(cpu: true, 5_000)), 0, 0, wakeLatency: wake);
        var plain = EntityTimes.Both(10_000 + costs.InterruptEntryNs + Contract.Lookahead);
        var waking = EntityTimes.Both(10_000 + wake + costs.InterruptEntryNs + Contract.Lookahead);
        windows.Route([Event(10_000, EventKind.InterruptRaise, source: 1, target: 3)], []);
        Assert.Equal(waking, windows.Frontier.Output);
        Assert.Equal(new WakingBounds(10_000, plain), windows.Waking);
        // Not due while its dispatch, 290 µs after the IPI, lies past the safe time; due, for both, once it does not.
        Assert.Empty(windows.TakeDue(EntityTimes.Both(10_000 + wake)));
        Assert.Equal(3, Assert.Single(windows.TakeDue(EntityTimes.Both(10_001 + wake))).Entity);
        Assert.Equal(WakingBounds.None, windows.Waking);

        // After its own timer, CPU 4 may be awake when the IPI comes: the plain bound.
        windows.Route([Event(10_000, EventKind.InterruptRaise, source: 1, target: 4)], []);
        Assert.Equal(plain, windows.Frontier.Output);
        Assert.Equal(WakingBounds.None, windows.Waking);
        windows.TakeDue(EntityTimes.Both(10_001));

        // A thread wake-up before the IPI reaches CPU 3 first: the IPI's bound falls back to the plain one.
        windows.Ran(3, Frontier.Idle, 0, 0, wakeLatency: wake);
        windows.Route([Event(10_000, EventKind.InterruptRaise, source: 1, target: 3, seq: 2)], []);
        Assert.Equal(waking, windows.Frontier.Output);
        windows.Route([Event(9_000, EventKind.ThreadWake, source: 3, target: 3, op: Scheduler.ThreadId(0, 3), seq: 3)], []);
        // (db's wake-up writes its mm, never another CPU.)
        Assert.Equal(plain with { Mm = 9_000 + Setup.Costs.MmContextAccessNs }, windows.Frontier.Output);
        Assert.Equal(WakingBounds.None, windows.Waking);
    }

    /// <summary>
    /// A partition reports what its frontier owes to wake latencies; a batch from another
    /// partition bringing an event at or before that time voids it at the coordinator too, since
    /// the batch may reach the partition after it reported.
    /// </summary>
    [Fact]
    public void ABatchWithAnEarlierEventVoidsAPartitionsWakingBoundsAtTheCoordinator()
    {
        var coordinator = new WindowCoordinator(2, Contract);
        var idle = new PartitionStep(Frontier.Idle, [], [], 0, 0, WakingBounds.None);
        // Partition 1 holds an IPI for an idle CPU at 10 µs, bounded at 300 µs for its wake latency (10.2 µs without).
        var waking = new PartitionStep(new Frontier(EntityTimes.Both(300_000), EntityTimes.Only(cpu: true, 10_000)), [], [], 0, 0,
            new WakingBounds(10_000, EntityTimes.Both(10_200)));

        // Partition 0 sends it an event for 20 µs, after the IPI: the waking bound stands.
        var later = new Frontier(EntityTimes.Never, EntityTimes.Only(cpu: true, 20_000));
        coordinator.Apply([0, 1], [idle with { SentTo = [1], SentFrontier = [later] }, waking]);
        Assert.True(coordinator.TryNextWindow(out var safe, out _));
        Assert.Equal(300_000, safe.Cpu);
        // ...and one for 9 µs, before it: partition 1's output without wake latencies.
        var earlier = new Frontier(EntityTimes.Never, EntityTimes.Only(cpu: true, 9_000));
        coordinator.Apply([0, 1], [idle with { SentTo = [1], SentFrontier = [earlier] }, waking]);
        Assert.True(coordinator.TryNextWindow(out safe, out _));
        Assert.Equal(10_200, safe.Cpu);
    }

    /// <summary>A transport whose entities handle nothing: it records which were due, window by window.</summary>
    private sealed class RecordingTransport : IPartitionTransport
    {
        public List<List<DueEntity>> Due { get; } = new();

        public ValueTask<EntityStep[]> Start(IReadOnlyList<int> entities) =>
            ValueTask.FromResult(entities.Select(_ => new EntityStep(Frontier.Idle, ReadOnlyMemory<SimEvent>.Empty, [], 0, 0, WakeLatency: 0)).ToArray());

        public ValueTask<EntityStep[]> Run(List<DueEntity> due)
        {
            Due.Add([.. due]);
            return ValueTask.FromResult(due.Select(_ => new EntityStep(Frontier.Idle, ReadOnlyMemory<SimEvent>.Empty, [], 0, 0, WakeLatency: 0)).ToArray());
        }

        public ValueTask Send(List<PartitionBatchOut> batches, long window) => ValueTask.CompletedTask;
    }

    /// <summary>
    /// Events that only count towards a wait (a sender's csd unlocks) write nothing by
    /// themselves; what the entity can write while it holds them is its own answer, given how
    /// many it holds and the latest, and it is asked again as they arrive and are handled. (That
    /// the CPU's answer is safe, the equality matrix checks: an event earlier than the window an
    /// entity ran to is refused.)
    /// </summary>
    [Fact]
    public void EventsThatOnlyCountTowardsAWaitAreBoundedByTheEntityOverAllItHolds()
    {
        var entity = new WaitingEntity(id: 5, completesAt: 3);
        var runner = new EntityRunner(entity, Contract);
        runner.Start(new EventBuffer());
        runner.Deliver([new[] { Event(1_000, EventKind.CsdAck, source: 8, target: 5), Event(3_000, EventKind.CsdAck, source: 9, target: 5) }], []);
        Assert.Equal(EntityTimes.Never, runner.Frontier.Output);
        Assert.Equal((2, 3_000L), entity.Asked);

        runner.Deliver([new[] { Event(2_000, EventKind.CsdAck, source: 10, target: 5) }], []);
        Assert.Equal(EntityTimes.Both(3_000 + WaitingEntity.Writes), runner.Frontier.Output);

        runner.RunUntil(2_500, new EventBuffer());
        Assert.Equal(EntityTimes.Never, runner.Frontier.Output);
        Assert.Equal((1, 3_000L), entity.Asked);

        // Another kind keeps the contract's own bound.
        runner.Deliver([new[] { Event(4_000, EventKind.InterruptRaise, source: 8, target: 5, seq: 2) }], []);
        Assert.Equal(Contract.EarliestOutput(Event(4_000, EventKind.InterruptRaise, source: 8, target: 5)), runner.Frontier.Output);
        // Once none is held, the entity is not asked.
        var asks = entity.Asks;
        runner.RunUntil(5_000, new EventBuffer());
        Assert.Equal(EntityTimes.Never, runner.Frontier.Output);
        Assert.Equal(asks, entity.Asks);
    }

    /// <summary>A CPU-numbered entity whose wait completes when it holds <c>completesAt</c> unlocks; it records what it was asked.</summary>
    private sealed class WaitingEntity(int id, int completesAt) : ISimEntity, IWaitCompletion
    {
        public const long Writes = 100;
        public int Id { get; } = id;
        public (int Held, long Latest) Asked { get; private set; }
        public int Asks { get; private set; }
        public void Start(ISimContext ctx) { }
        public void Handle(in SimEvent e, ISimContext ctx) { }
        public void WriteState(Shootdown.Model.State.StateWriter writer) { }
        public void ReadState(Shootdown.Model.State.StateReader reader) { }
        public bool CountsTowardsWait(EventKind kind) => kind == EventKind.CsdAck;

        public EntityTimes WaitCompletionWrites(int held, long latest)
        {
            (Asked, Asks) = ((held, latest), Asks + 1);
            return held == completesAt ? EntityTimes.Both(latest + Writes) : EntityTimes.Never;
        }
    }

    /// <summary>The conservative guarantee, checked where it matters: nothing may reach an entity before the window end it already ran to.</summary>
    [Fact]
    public void AnEventFromBeforeTheWindowAnEntityRanToIsRefused()
    {
        var runner = new EntityRunner(Setup.CreateEntity(Setup.MmEntityId(0)), Contract);
        runner.Start(new EventBuffer());
        runner.RunUntil(5_000, new EventBuffer());
        runner.Deliver([new[] { Event(5_000, EventKind.MmCpumaskSet, 2, Setup.MmEntityId(0), op: Scheduler.ThreadId(0, 0)) }], []);
        var error = Assert.Throws<InvalidOperationException>(() =>
            runner.Deliver([new[] { Event(4_999, EventKind.MmCpumaskSet, 3, Setup.MmEntityId(0), op: Scheduler.ThreadId(0, 1)) }], []));
        Assert.Contains("earliest-output bound was wrong", error.Message);
    }
}
