using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Model.Simulation;
using Shootdown.Model.Topology;

namespace Shootdown.Engine;

/// <summary>
/// The oracle: one thread, one queue of every pending event in the machine, popped in
/// (time, kind, source, seq) order. The grain engine must reproduce its digest exactly.
/// </summary>
public sealed class ReferenceEngine
{
    private readonly PriorityQueue<SimEvent, EventKey> _queue = new();
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
        }
        var last = 0L;
        while (_queue.TryDequeue(out var e, out _))
        {
            var ctx = _contexts[e.Target];
            ctx.Now = e.Time;
            last = e.Time;
            _entities[e.Target].Handle(e, ctx);
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
            engine._queue.Enqueue(e, e.Key);
        }
    }
}
