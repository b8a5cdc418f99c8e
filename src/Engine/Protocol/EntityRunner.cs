using Shootdown.Engine.Queues;
using Shootdown.Model.Simulation;
using Shootdown.Model.State;
using Shootdown.Model.Topology;
using Shootdown.Protocol;

namespace Shootdown.Engine;

/// <summary>
/// One entity with its own event queue, as a grain holds it: events for it are delivered in
/// batches, it runs every event before a window's end in (time, kind, source, seq) order, and
/// what it sends to other entities collects in one outbox, handed back after the window. Its
/// queue keeps the events in its own arrays, or in <paramref name="sharedSlots"/>, a store the
/// runners of one partition share when one thread runs them all (<see cref="EntityEventQueue"/>).
/// </summary>
public sealed class EntityRunner(ISimEntity entity, SyncContract contract, EventSlots? sharedSlots = null) : ISimContext
{
    /// <summary>The pending events by key; its memory goes back to a pool after a burst.</summary>
    private readonly EntityEventQueue _queue = new(sharedSlots);
    /// <summary>The minimum output over the pending events, unless <see cref="_outputStale"/>.</summary>
    private EntityTimes _output = EntityTimes.Never;
    /// <summary>An event that held the minimum was handled: the minimum is found again when next asked for.</summary>
    private bool _outputStale;
    /// <summary>Where what this entity sends others goes, from the call that runs it until the step takes it.</summary>
    private EventBuffer? _outbox;
    private readonly List<MaskAttachment> _sentMasks = new();
    private readonly MaskAttachments _masks = new();
    private long _seq;
    /// <summary>The entity, when some of its events only count towards a wait (<see cref="IWaitCompletion"/>).</summary>
    private readonly IWaitCompletion? _waits = entity as IWaitCompletion;
    /// <summary>The entity, when it can say how long it takes to act on an interrupt that reaches it first.</summary>
    private readonly IWakeLatency? _wakes = entity as IWakeLatency;
    /// <summary>Pending events that only count towards a wait, and the latest of their times (kept while any is pending).</summary>
    private int _waitingHeld;
    private long _waitingLatest;

    public ISimEntity Entity { get; } = entity;
    public long Now { get; private set; }
    public long EventsProcessed { get; private set; }
    public long LastEventTime { get; private set; }

    /// <summary>
    /// No event this entity sends a CPU, or an mm, can be earlier than the frontier's output,
    /// whatever it handles next (the minimum, over its pending events, of the contract's bound
    /// for each); and its earliest pending event. The minimum is kept as events arrive, and
    /// searched for again only after the event that held it was handled.
    /// </summary>
    public Frontier Frontier
    {
        get
        {
            RefreshOutput();
            var next = _queue.TryPeek(out var head) ? EntityTimes.Only(contract.Setup.IsCpu(Entity.Id), head.Time) : EntityTimes.Never;
            var output = _waitingHeld > 0 ? _output.Min(_waits!.WaitCompletionWrites(_waitingHeld, _waitingLatest)) : _output;
            return new Frontier(output, next);
        }
    }

    private void RefreshOutput()
    {
        if (!_outputStale) return;
        var min = EntityTimes.Never;
        for (var i = 0; i < _queue.Count; i++) min = min.Min(OutputOf(_queue[i]));
        (_output, _outputStale) = (min, false);
    }

    /// <summary>
    /// The contract's bound on what handling <paramref name="e"/> can write, or none for an event
    /// that only counts towards a wait (what the wait's completion writes is bounded apart, in
    /// <see cref="Frontier"/>). A function of the event alone, so it is computed where it is
    /// needed rather than kept beside each of a storm's millions of pending events.
    /// </summary>
    private EntityTimes OutputOf(in SimEvent e) => _waits?.CountsTowardsWait(e.Kind) == true ? EntityTimes.Never : contract.EarliestOutput(e);

    /// <summary>Every event before this time has been handled: the end of the last window the entity ran to.</summary>
    public long RanTo { get; private set; }

    /// <summary>Starts the entity; what it sends others goes to <paramref name="outbox"/> until <see cref="TakeSent"/>.</summary>
    public void Start(EventBuffer outbox)
    {
        _outbox = outbox;
        Now = 0;
        Entity.Start(this);
    }

    [ThreadStatic] private static StateWriter? t_snapshotWriter;

    /// <summary>
    /// The entity and its queue between windows, in the state contract: its id, clocks and
    /// counters, its pending events (in the heap's own order, which re-adding keeps), the masks
    /// that wait with them, then the model object's state. Taken at a barrier, when nothing it
    /// sent is still held here.
    /// </summary>
    public byte[] Snapshot()
    {
        if (_outbox is not null || _sentMasks.Count > 0) throw new InvalidOperationException($"entity {Entity.Id} snapshot with sent events not yet taken");
        // Not written, but brought up to date, as a restored runner computes it: the two are then the same field for field.
        RefreshOutput();
        // Written into this thread's writer, then copied out once: fresh memory costs a page fault
        // per 4 KiB on first touch, which on a storm's 100 MB of states was most of a checkpoint.
        var w = StateContract.Begin(t_snapshotWriter ??= new StateWriter(1 << 16));
        w.Int(Entity.Id);
        w.Long(_seq);
        w.Long(Now);
        w.Long(RanTo);
        w.Long(EventsProcessed);
        w.Long(LastEventTime);
        w.Int(_queue.Count);
        for (var i = 0; i < _queue.Count; i++) w.Event(_queue[i]);
        _masks.WriteState(w);
        Entity.WriteState(w);
        return w.ToArray();
    }

    /// <summary>
    /// A runner around <paramref name="entity"/>, built afresh from the run's setup, that goes on
    /// from <paramref name="state"/> (a <see cref="Snapshot"/>): nothing in it is created but by
    /// the model's own constructors, and any field that does not check out is refused.
    /// </summary>
    public static EntityRunner Restore(ISimEntity entity, SyncContract contract, ReadOnlyMemory<byte> state)
    {
        var r = StateContract.Open(state, "entity state");
        var id = r.Int();
        if (id != entity.Id) throw r.Invalid($"entity {id}'s state given to entity {entity.Id}");
        var runner = new EntityRunner(entity, contract) { _seq = r.Long(), Now = r.Long(), RanTo = r.Long(), EventsProcessed = r.Long(), LastEventTime = r.Long() };
        var count = r.Count("a queue");
        runner._queue.EnsureCapacity(count);
        for (var i = 0; i < count; i++)
        {
            var e = r.Event();
            if (e.Target != id) throw r.Invalid($"an event for {e.Target} in entity {id}'s queue");
            runner.Enqueue(e);
        }
        runner._masks.ReadState(r);
        entity.ReadState(r);
        r.End();
        return runner;
    }

    /// <summary>Events that waited for this entity, as its partition hands them over in runs (views of its chunks), and the masks some carry.</summary>
    public void Deliver(ReadOnlySpan<ReadOnlyMemory<SimEvent>> runs, ReadOnlySpan<MaskAttachment> masks)
    {
        foreach (var m in masks) _masks.Attach(m);
        var count = 0;
        foreach (var run in runs) count += run.Length;
        // One growth at most per call: a target can be handed hundreds of csds at once.
        _queue.EnsureCapacity(_queue.Count + count);
        foreach (var run in runs)
            foreach (var e in run.Span) Accept(e);
    }

    /// <summary>One event for this entity, put in its queue as it reaches its partition (<see cref="IImmediateDelivery"/>).</summary>
    public void Deliver(in SimEvent e) => Accept(e);

    /// <summary>One delivered event, checked: it is this entity's, and not from before the window it already ran to.</summary>
    private void Accept(in SimEvent e)
    {
        if (e.Target != Entity.Id) throw new InvalidOperationException($"event for {e.Target} delivered to {Entity.Id}");
        if (e.Time < RanTo)
            throw new InvalidOperationException($"entity {Entity.Id}, run to {RanTo} ns, got an event from before that ({e.Time} ns, {e.Kind} from {e.Source}): an earliest-output bound was wrong");
        Enqueue(e);
    }

    private void Enqueue(in SimEvent e)
    {
        if (_waits?.CountsTowardsWait(e.Kind) == true) (_waitingHeld, _waitingLatest) = (_waitingHeld + 1, Math.Max(_waitingLatest, e.Time));
        else _output = _output.Min(contract.EarliestOutput(e));
        _queue.Enqueue(e);
    }

    /// <summary>
    /// Runs every pending event earlier than <paramref name="windowEnd"/>, including those it
    /// schedules for itself; what it sends others goes to <paramref name="outbox"/> until <see cref="TakeSent"/>.
    /// </summary>
    public void RunUntil(long windowEnd, EventBuffer outbox)
    {
        _outbox = outbox;
        RanTo = Math.Max(RanTo, windowEnd);
        while (_queue.TryPeek(out var key) && key.Time < windowEnd)
        {
            // A copy: its slot is free again before the handler adds events of its own.
            var e = _queue.Dequeue();
            // Only an event that may have held the minimum makes it stale; with none, nothing can.
            if (!_outputStale && _output != EntityTimes.Never)
            {
                var output = OutputOf(e);
                if (output.Cpu == _output.Cpu && _output.Cpu != long.MaxValue || output.Mm == _output.Mm && _output.Mm != long.MaxValue) _outputStale = true;
            }
            // Asked only while some are held: most events are handled with none.
            if (_waitingHeld > 0 && _waits!.CountsTowardsWait(e.Kind) && --_waitingHeld == 0) _waitingLatest = 0;
            Now = e.Time;
            LastEventTime = e.Time;
            EventsProcessed++;
            Entity.Handle(e, this);
        }
        _queue.Trim();
    }

    /// <summary>
    /// Takes what this entity sent to others since it was last run, in the order sent (a view of
    /// the outbox it was run with, valid until that is cleared), with the masks some carry.
    /// </summary>
    public (ReadOnlyMemory<SimEvent> Events, MaskAttachment[] Masks) TakeSent()
    {
        var taken = (_outbox?.TakeAdded() ?? ReadOnlyMemory<SimEvent>.Empty, _sentMasks.Count == 0 ? [] : _sentMasks.ToArray());
        _outbox = null;
        _sentMasks.Clear();
        return taken;
    }

    /// <summary>
    /// Its step: its frontier over what it holds, what it sent since it was last run (see
    /// <see cref="TakeSent"/>), and how long it would take to act on an interrupt reaching it
    /// first, which can only come at or after the window it ran to.
    /// </summary>
    public EntityStep TakeStep()
    {
        var (sent, masks) = TakeSent();
        return new EntityStep(Frontier, sent, masks, EventsProcessed, LastEventTime, _wakes?.WakeLatencyFrom(RanTo) ?? 0);
    }

    public CpuMask AttachedMask(in SimEvent e) => _masks.Take(e);

    public void Send(int target, long at, EventKind kind, long op = 0, int arg = 0, long x = 0, long y = 0, int flags = 0, CpuMask? mask = null)
    {
        var e = contract.Stamp(Entity.Id, ref _seq, Now, target, at, kind, op, arg, x, y, flags);
        if (target == Entity.Id)
        {
            if (mask is not null) _masks.Attach(new MaskAttachment(Entity.Id, e.Seq, target, mask));
            Enqueue(e);
            return;
        }
        (_outbox ?? throw new InvalidOperationException($"entity {Entity.Id} sent {kind} outside a run")).Add(e);
        if (mask is not null) _sentMasks.Add(new MaskAttachment(Entity.Id, e.Seq, target, mask));
    }
}
