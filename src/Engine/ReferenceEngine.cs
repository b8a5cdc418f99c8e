using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Model.Simulation;
using Shootdown.Model.Topology;

namespace Shootdown.Engine;

/// <summary>
/// The oracle: one thread, every pending event in the machine, popped in
/// (time, kind, source, seq) order. The grain engine must reproduce its digest exactly.
/// <para>
/// What one handler sends is kept as one sorted run, and a heap merges the runs by their head:
/// a broadcast to 8191 CPUs is one heap entry, not 8191, and the pop order is the same total order.
/// </para>
/// </summary>
public sealed class ReferenceEngine
{
    private readonly PriorityQueue<SortedRun, EventKey> _runs = new();
    private readonly List<SimEvent> _sent = new();
    private readonly ISimEntity[] _entities;
    private readonly Context[] _contexts;
    private readonly SimulationSetup _setup;

    public ReferenceEngine(SimulationSetup setup)
    {
        _setup = setup;
        _entities = new ISimEntity[setup.EntityCount];
        _contexts = new Context[setup.EntityCount];
        for (var id = 0; id < setup.EntityCount; id++)
        {
            _entities[id] = setup.CreateEntity(id);
            _contexts[id] = new Context(this, id);
        }
    }

    public long EventsProcessed { get; private set; }

    /// <summary>Runs to quiescence. <paramref name="progress"/> hears the virtual time now and then.</summary>
    public PolicyResult Run(Action<long>? progress = null, CancellationToken cancellation = default)
    {
        foreach (var ctx in _contexts)
        {
            ctx.Now = 0;
            _entities[ctx.Id].Start(ctx);
            FlushSent();
        }
        var last = 0L;
        while (_runs.TryPeek(out var run, out _))
        {
            var e = run.Events[run.Next++];
            if (run.Next < run.Events.Length) _runs.DequeueEnqueue(run, run.Events[run.Next].Key);
            else _runs.Dequeue();

            var ctx = _contexts[e.Target];
            ctx.Now = e.Time;
            last = e.Time;
            _entities[e.Target].Handle(e, ctx);
            FlushSent();
            if ((++EventsProcessed & 0xFFFF) == 0)
            {
                progress?.Invoke(last);
                cancellation.ThrowIfCancellationRequested();
            }
        }
        progress?.Invoke(last);
        return PolicyResult.Collect(_setup.Policy.Name, last, EventsProcessed,
            _entities.OfType<Cpu>().Select(c => (c.Id, c.Stats, (IEnumerable<OpRecord>)c.CompletedOps)),
            _setup.RealtimeCpus);
    }

    /// <summary>Turns what the last handler sent into one sorted run.</summary>
    private void FlushSent()
    {
        if (_sent.Count == 0) return;
        var events = _sent.ToArray();
        _sent.Clear();
        if (!IsSorted(events)) Array.Sort(events, static (a, b) => a.Key.CompareTo(b.Key));
        _runs.Enqueue(new SortedRun(events), events[0].Key);
    }

    private static bool IsSorted(SimEvent[] events)
    {
        for (var i = 1; i < events.Length; i++)
            if (events[i - 1].Key.CompareTo(events[i].Key) > 0) return false;
        return true;
    }

    private sealed class SortedRun(SimEvent[] events)
    {
        public SimEvent[] Events { get; } = events;
        public int Next { get; set; }
    }

    private sealed class Context(ReferenceEngine engine, int id) : ISimContext
    {
        private long _seq;
        public int Id { get; } = id;
        public long Now { get; set; }

        public void Send(int target, long at, EventKind kind, long op = 0, int arg = 0, long x = 0, long y = 0, int flags = 0, CpuMask? mask = null)
        {
            var e = new SimEvent(at, kind, Id, ++_seq, target, op, arg, x, y, flags, mask);
            if (target != Id) Lookahead.Check(Id, Now, e, engine._setup.Lookahead);
            else if (at < Now) throw new InvalidOperationException($"entity {Id} scheduled {kind} in its past");
            engine._sent.Add(e);
        }
    }
}
