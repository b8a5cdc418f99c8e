using Shootdown.Model.Simulation;
using Shootdown.Model.Topology;

namespace Shootdown.Engine;

/// <summary>
/// One entity with its own event queue, as a grain holds it: events for it are delivered in
/// batches, it runs every event before a window's end in (time, kind, source, seq) order, and
/// what it sends to other entities collects in an outbox, one batch per destination.
/// </summary>
public sealed class EntityRunner : ISimContext
{
    private readonly PriorityQueue<SimEvent, EventKey> _queue = new();
    private readonly SortedDictionary<int, OutboxBatch> _outbox = new();
    private readonly MaskAttachments _masks = new();
    private readonly long _lookahead;
    private readonly EarliestOutputBound _earliestOutput;
    private long _seq;

    public EntityRunner(ISimEntity entity, long lookahead, EarliestOutputBound earliestOutput)
    {
        Entity = entity;
        _lookahead = lookahead;
        _earliestOutput = earliestOutput;
    }

    public ISimEntity Entity { get; }
    public long Now { get; private set; }
    public long EventsProcessed { get; private set; }
    public long LastEventTime { get; private set; }

    /// <summary>
    /// No event this entity sends another can be earlier than this, whatever it handles next:
    /// the minimum, over its pending events, of the model's bound for each.
    /// </summary>
    public long EarliestOutputTime
    {
        get
        {
            var min = long.MaxValue;
            foreach (var (e, _) in _queue.UnorderedItems) min = Math.Min(min, _earliestOutput(e));
            return min;
        }
    }

    public void Start()
    {
        Now = 0;
        Entity.Start(this);
    }

    public void Deliver(IEnumerable<SimEvent> events, IEnumerable<MaskAttachment> masks)
    {
        foreach (var m in masks) _masks.Attach(m);
        foreach (var e in events)
        {
            if (e.Target != Entity.Id) throw new InvalidOperationException($"event for {e.Target} delivered to {Entity.Id}");
            if (e.Time < Now) throw new InvalidOperationException($"entity {Entity.Id} at {Now} ns got an event from the past ({e.Time} ns, {e.Kind} from {e.Source}): lookahead violated");
            _queue.Enqueue(e, e.Key);
        }
    }

    /// <summary>Runs every pending event earlier than <paramref name="windowEnd"/>, including those it schedules for itself.</summary>
    public void RunUntil(long windowEnd)
    {
        while (_queue.TryPeek(out var e, out _) && e.Time < windowEnd)
        {
            _queue.Dequeue();
            Now = e.Time;
            LastEventTime = e.Time;
            EventsProcessed++;
            Entity.Handle(e, this);
        }
    }

    /// <summary>Takes what this entity sent to others since the last call, grouped by destination in id order.</summary>
    public IReadOnlyList<(int Target, SimEvent[] Events, MaskAttachment[] Masks)> TakeOutbox()
    {
        var batches = _outbox.Select(kv => (kv.Key, kv.Value.Events.ToArray(), kv.Value.Masks?.ToArray() ?? [])).ToList();
        _outbox.Clear();
        return batches;
    }

    public CpuMask AttachedMask(in SimEvent e) => _masks.Take(e);

    public void Send(int target, long at, EventKind kind, long op = 0, int arg = 0, long x = 0, long y = 0, int flags = 0, CpuMask? mask = null)
    {
        var e = Lookahead.Stamp(Entity.Id, ref _seq, Now, _lookahead, target, at, kind, op, arg, x, y, flags);
        if (target == Entity.Id)
        {
            if (mask is not null) _masks.Attach(new MaskAttachment(Entity.Id, e.Seq, mask));
            _queue.Enqueue(e, e.Key);
            return;
        }
        if (!_outbox.TryGetValue(target, out var batch)) _outbox[target] = batch = new OutboxBatch();
        batch.Events.Add(e);
        if (mask is not null) (batch.Masks ??= new List<MaskAttachment>()).Add(new MaskAttachment(Entity.Id, e.Seq, mask));
    }

    /// <summary>What this entity has sent one destination in the current window; few events carry a mask.</summary>
    private sealed class OutboxBatch
    {
        public List<SimEvent> Events { get; } = new();
        public List<MaskAttachment>? Masks { get; set; }
    }
}

/// <summary>A lower bound on when handling an event can make its entity send to another.</summary>
public delegate long EarliestOutputBound(in SimEvent e);

/// <summary>The conservative-synchronisation contract every cross-entity event must honour.</summary>
public static class Lookahead
{
    /// <summary>
    /// Numbers an event its source sends, and checks it: an event to itself may not be in its
    /// past, and one to another entity must be at least the lookahead ahead. Both engines send
    /// through this, so they number and check alike.
    /// </summary>
    public static SimEvent Stamp(int source, ref long seq, long now, long lookahead, int target, long at, EventKind kind,
        long op, int arg, long x, long y, int flags)
    {
        var e = new SimEvent(at, kind, source, ++seq, target, op, arg, x, y, flags);
        if (target == source)
        {
            if (at < now) throw new InvalidOperationException($"entity {source} scheduled {kind} in its past");
        }
        else
        {
            Check(source, now, e, lookahead);
        }
        return e;
    }

    private static void Check(int source, long now, in SimEvent e, long lookahead)
    {
        if (e.Time < now + lookahead)
            throw new InvalidOperationException(
                $"entity {source} at {now} ns sent {e.Kind} to {e.Target} for {e.Time} ns, inside the {lookahead} ns lookahead: a model message is faster than the cost model's minimum");
    }
}
