using Shootdown.Model.Simulation;
using Shootdown.Protocol;

namespace Shootdown.Engine;

/// <summary>
/// The events an entity is handed when it runs, in the order they reached it (the transport gives
/// them back with <see cref="PartitionWindows.Handed"/> once it has read them), the masks some of
/// them carry, and the window end it runs to.
/// </summary>
public readonly record struct DueEntity(int Entity, PooledEvents Events, MaskAttachment[] Masks, long RunTo);

/// <summary>
/// What one partition sends another after a window: one batch, in the chunks its events were
/// gathered in (views of them, which the receiver owns from then on), and the frontier its events add there.
/// </summary>
public readonly record struct PartitionBatchOut(int Partition, ReadOnlyMemory<SimEvent>[] Events, MaskAttachment[] Masks, Frontier Frontier);

/// <summary>
/// Entities whose partition may put an event in the entity's own queue as soon as the event
/// reaches the partition, rather than hold it until the entity next runs: in process, where the
/// partition owns its entities' runners (<see cref="ParallelEngine"/>). A grain's queue is the
/// grain's alone, so a grain partition holds its entities' events until it calls them.
/// </summary>
public interface IImmediateDelivery
{
    void DeliverNow(int entity, in SimEvent e);
}

/// <summary>
/// One partition's share of the window protocol, as a partition grain holds it. It keeps the
/// events waiting for each of its entities, and which are due in a window; an entity's events
/// ride on the call that runs it. What its entities send is routed after the window: to their
/// own partition's inboxes, or into one batch per other partition.
/// </summary>
public sealed class PartitionWindows
{
    private readonly SyncContract _contract;
    private readonly PartitionMap _map;
    private readonly int[] _members;
    /// <summary>Each entity's index among this partition's members, or −1 for another partition's.</summary>
    private readonly int[] _localIndex;
    private readonly WindowScheduler _scheduler;
    private readonly PendingEvents[] _inboxes;
    private readonly long[] _eventsProcessed;
    /// <summary>
    /// Per member, from its last step: how long it takes to act on an interrupt that reaches it
    /// first (0 while it runs, until it reports), and its own earliest pending event, before which
    /// alone that holds.
    /// </summary>
    private readonly long[] _wakeLatency;
    private readonly long[] _ownNext;
    /// <summary>Members whose inbox holds an event bounded by their wake latency (<see cref="Waking"/>), each listed once.</summary>
    private readonly List<int> _waking = new();
    private readonly bool[] _wakingListed;
    private readonly PendingEvents[] _outgoing;
    private readonly ChunkPool _chunks;
    /// <summary>Empty event lists for inboxes whose events were handed to their entity.</summary>
    private readonly Stack<PooledEvents> _spare = new();

    private readonly long _until;
    private readonly IImmediateDelivery? _immediate;
    /// <summary>How many events an entity gets at once between its runs; see <see cref="AcceptOne"/>.</summary>
    private const int ImmediateLimit = 16;

    /// <param name="until">Where the run stops (<see cref="WindowCoordinator.Until"/>): once a safe time reaches it, every entity with an event before it is due.</param>
    /// <param name="immediate">
    /// Where events for this partition's entities may go as they arrive instead of into its
    /// inboxes (the first few between two runs of an entity; see <see cref="AcceptOne"/>): each
    /// such event is copied once less, and fills no chunk on its way.
    /// </param>
    /// <param name="chunksKept">How many free chunks of events the partition keeps for its next windows (<see cref="ChunkPool"/>).</param>
    public PartitionWindows(SyncContract contract, PartitionMap map, int partition, long until = long.MaxValue, IImmediateDelivery? immediate = null,
        int chunksKept = ChunkPool.KeptByDefault)
    {
        _chunks = new ChunkPool(chunksKept);
        _until = until;
        _immediate = immediate;
        _contract = contract;
        _map = map;
        Partition = partition;
        _members = [.. map.MembersOf(partition)];
        _localIndex = new int[map.EntityCount];
        Array.Fill(_localIndex, -1);
        for (var i = 0; i < _members.Length; i++) _localIndex[_members[i]] = i;
        _scheduler = new WindowScheduler(_members.Length, contract);
        _inboxes = _members.Select(_ => new PendingEvents(_chunks)).ToArray();
        _eventsProcessed = new long[_members.Length];
        _wakeLatency = new long[_members.Length];
        _ownNext = new long[_members.Length];
        _wakingListed = new bool[_members.Length];
        _outgoing = Enumerable.Range(0, map.Count).Select(_ => new PendingEvents(_chunks)).ToArray();
    }

    public int Partition { get; }
    public IReadOnlyList<int> Members => _members;

    /// <summary>Events its entities have handled so far, over the whole run.</summary>
    public long EventsProcessed { get; private set; }

    /// <summary>The time of the last event any of its entities handled.</summary>
    public long LastEventTime { get; private set; }

    /// <summary>The frontier of every entity here, with the events waiting for them.</summary>
    public Frontier Frontier => _scheduler.Earliest;

    /// <summary>
    /// What <see cref="Frontier"/> owes to wake latencies: the latest waiting event bounded by
    /// its entity's, and the output with none of them, for the coordinator, which must fall back
    /// to it when another partition's batch brings an event at or before that time. Members whose
    /// bound was dropped or handed on since leave the list as it is read.
    /// </summary>
    public WakingBounds Waking
    {
        get
        {
            var (until, without) = (long.MinValue, EntityTimes.Never);
            var kept = 0;
            for (var w = 0; w < _waking.Count; w++)
            {
                var i = _waking[w];
                var inbox = _inboxes[i];
                if (!inbox.Waking)
                {
                    _wakingListed[i] = false;
                    continue;
                }
                _waking[kept++] = i;
                until = Math.Max(until, inbox.WakingUntil);
                without = without.Min(inbox.FrontierWithoutWaking.Output);
            }
            _waking.RemoveRange(kept, _waking.Count - kept);
            return kept == 0 ? WakingBounds.None : new WakingBounds(until, Frontier.Output.Min(without));
        }
    }

    /// <summary>
    /// Events for entities of this partition, from another partition's batch (or a checkpoint's
    /// part), in runs: once read, a run's chunk is this partition's (<see cref="ChunkPool.Adopt"/>).
    /// </summary>
    public void Accept(ReadOnlySpan<ReadOnlyMemory<SimEvent>> runs, ReadOnlySpan<MaskAttachment> masks)
    {
        foreach (var m in masks) _inboxes[LocalIndexOf(m.Target)].Masks.Add(m);
        foreach (var run in runs)
        {
            foreach (var e in run.Span) AcceptOne(e);
            _chunks.Adopt(run);
        }
    }

    /// <summary>
    /// Every event waiting in this partition for one of its entities, with their masks, left in
    /// place: at a window barrier this and the entities' own states are the partition's whole part
    /// of a checkpoint (batches have all been delivered by then), and <see cref="Accept"/> puts them back.
    /// </summary>
    /// <remarks>The events are views of the inboxes' chunks, not copies (a storm leaves close to a million csds waiting): valid until the partition next changes.</remarks>
    public (ReadOnlyMemory<SimEvent>[] Events, MaskAttachment[] Masks) Waiting() => _immediate is null
        ? ([.. _inboxes.SelectMany(i => i.Events.Runs())], [.. _inboxes.SelectMany(i => i.Masks)])
        : throw new InvalidOperationException($"partition {Partition} delivers its entities' events at once: they wait in the entities' own states");

    private void AcceptOne(in SimEvent e)
    {
        var i = LocalIndexOf(e.Target);
        var inbox = _inboxes[i];
        var frontier = _contract.FrontierOf(e);
        // An event at or before one bounded by the entity's wake latency reaches it first: that
        // bound no longer holds (with none, WakingUntil is long.MinValue and no time is before it).
        var lowered = e.Time <= inbox.WakingUntil && inbox.VoidWaking();
        if (WakingFrontierOf(i, inbox, e) is { } waking)
        {
            lowered |= inbox.BoundWaking(e.Time, waking, frontier);
            if (!_wakingListed[i])
            {
                _wakingListed[i] = true;
                _waking.Add(i);
            }
        }
        else lowered |= inbox.Bound(frontier);
        // Most events of a burst move no bound: only a lowered inbox frontier concerns the scheduler.
        if (lowered) _scheduler.Delivered(i, inbox.Frontier);
        // The first few go to the entity at once; a burst's rest waits in the inbox, to be
        // handed over in one delivery, which sizes the entity's queue once.
        if (_immediate is not null && inbox.Events.Count == 0 && inbox.DeliveredNow < ImmediateLimit)
        {
            inbox.DeliveredNow++;
            _immediate.DeliverNow(_members[i], e);
        }
        else inbox.Events.Add(e);
    }

    /// <summary>
    /// The frontier an event adds to member <paramref name="i"/> (whose inbox is
    /// <paramref name="inbox"/>) if it reaches the entity before anything else (nothing waits for
    /// it at or before the event, and its own next event is later) while it takes time to act (an
    /// idle CPU); null otherwise.
    /// </summary>
    private Frontier? WakingFrontierOf(int i, PendingEvents inbox, in SimEvent e) =>
        _wakeLatency[i] > 0 && e.Time < _ownNext[i] && e.Time < inbox.Frontier.Next.Earliest ? _contract.WakingFrontierOf(e, _wakeLatency[i]) : null;

    /// <summary>
    /// The entities to run in the window whose safe times are <paramref name="safe"/>, each with the
    /// events that waited for it and the safe time of its kind, which it runs to.
    /// </summary>
    public List<DueEntity> TakeDue(EntityTimes safe)
    {
        var due = _scheduler.TakeDue(safe, _until);
        var taken = new List<DueEntity>(due.Count);
        foreach (var i in due)
        {
            var inbox = _inboxes[i];
            var entity = _members[i];
            // The inbox's events are handed over as they lie, in their chunks, and the inbox starts a new list.
            taken.Add(new DueEntity(entity, inbox.Events, TakeAll(inbox.Masks), safe.For(_contract.Setup.IsCpu(entity))));
            inbox.Events = _spare.TryPop(out var spare) ? spare : new PooledEvents(_chunks);
            inbox.Reset();
            // What it takes to wake it is known again when it reports: what reaches it meanwhile is bounded plainly.
            _wakeLatency[i] = 0;
        }
        return taken;
    }

    /// <summary>A due entity's events have been read: their chunks and list serve again.</summary>
    public void Handed(PooledEvents events)
    {
        events.Clear();
        _spare.Push(events);
    }

    /// <summary>
    /// An entity ran: its own frontier over what it still holds, with what reached its inbox
    /// meanwhile, its counters, and its wake latency. Call for every entity of a window before routing what they sent.
    /// </summary>
    public void Ran(int entity, Frontier frontier, long eventsProcessed, long lastEventTime, long wakeLatency)
    {
        var i = LocalIndexOf(entity);
        (_wakeLatency[i], _ownNext[i]) = (wakeLatency, frontier.Next.Earliest);
        _scheduler.Set(i, frontier.Min(_inboxes[i].Frontier));
        EventsProcessed += eventsProcessed - _eventsProcessed[i];
        _eventsProcessed[i] = eventsProcessed;
        LastEventTime = Math.Max(LastEventTime, lastEventTime);
    }

    /// <summary>What an entity sent: to this partition's inboxes, or to the batch for the target's partition.</summary>
    public void Route(ReadOnlySpan<SimEvent> sent, ReadOnlySpan<MaskAttachment> masks)
    {
        foreach (var m in masks)
        {
            var p = _map.PartitionOf(m.Target);
            if (p == Partition) _inboxes[LocalIndexOf(m.Target)].Masks.Add(m);
            else _outgoing[p].Masks.Add(m);
        }
        foreach (var e in sent)
        {
            var p = _map.PartitionOf(e.Target);
            if (p == Partition) AcceptOne(e);
            else _outgoing[p].Add(e, _contract.FrontierOf(e));
        }
    }

    /// <summary>The window's batches for other partitions, one per partition that has any, in partition order.</summary>
    public List<PartitionBatchOut> TakeOutgoing()
    {
        var batches = new List<PartitionBatchOut>();
        for (var p = 0; p < _outgoing.Length; p++)
        {
            var o = _outgoing[p];
            if (o.Events.Count == 0) continue;
            batches.Add(new PartitionBatchOut(p, o.Events.HandOver(), TakeAll(o.Masks), o.Frontier));
            o.Reset();
        }
        return batches;
    }

    private int LocalIndexOf(int entity) =>
        _localIndex[entity] is var i and >= 0 ? i : throw new InvalidOperationException($"entity {entity} is not in partition {Partition}");

    private static MaskAttachment[] TakeAll(List<MaskAttachment> masks)
    {
        if (masks.Count == 0) return [];
        var taken = masks.ToArray();
        masks.Clear();
        return taken;
    }

    /// <summary>
    /// Events waiting for one entity, or for one other partition, and the frontier they add there;
    /// for an entity, the latest of them bounded by its wake latency, and what they would add without it.
    /// </summary>
    private sealed class PendingEvents(ChunkPool chunks)
    {
        public PooledEvents Events { get; set; } = new(chunks);
        public List<MaskAttachment> Masks { get; } = new();
        public Frontier Frontier { get; private set; } = Frontier.Idle;
        public long WakingUntil { get; private set; } = long.MinValue;
        public Frontier FrontierWithoutWaking { get; private set; } = Frontier.Idle;
        public bool Waking => WakingUntil != long.MinValue;

        /// <summary>Events given to the entity at once since it last ran (<see cref="IImmediateDelivery"/>).</summary>
        public int DeliveredNow { get; set; }

        /// <summary>Adds an event; true when it lowered the frontier.</summary>
        public bool Add(in SimEvent e, Frontier frontier)
        {
            Events.Add(e);
            return Bound(frontier);
        }

        /// <summary>Counts the frontier of an event at <paramref name="time"/> bounded by its entity's wake latency (<paramref name="waking"/>), <paramref name="frontier"/> without it; true when it lowered the frontier.</summary>
        public bool BoundWaking(long time, Frontier waking, Frontier frontier)
        {
            WakingUntil = Math.Max(WakingUntil, time);
            FrontierWithoutWaking = FrontierWithoutWaking.Min(frontier);
            return Bound(waking);
        }

        /// <summary>Something reaches the entity first: its events are bounded without its wake latency; true when that lowered the frontier.</summary>
        public bool VoidWaking()
        {
            var lowered = Bound(FrontierWithoutWaking);
            (WakingUntil, FrontierWithoutWaking) = (long.MinValue, Frontier.Idle);
            return lowered;
        }

        /// <summary>Its events were handed on: nothing waits here.</summary>
        public void Reset() => (Frontier, WakingUntil, FrontierWithoutWaking, DeliveredNow) = (Frontier.Idle, long.MinValue, Frontier.Idle, 0);

        /// <summary>Counts an event's frontier, wherever the event waits; true when it lowered the frontier.</summary>
        public bool Bound(Frontier frontier)
        {
            var lowered = Frontier.Min(frontier);
            if (lowered == Frontier) return false;
            Frontier = lowered;
            return true;
        }
    }
}
