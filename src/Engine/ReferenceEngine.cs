using Shootdown.Engine.Queues;
using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Model.Simulation;
using Shootdown.Model.Topology;
using Shootdown.Model.Tracing;

namespace Shootdown.Engine;

/// <summary>
/// The oracle: one thread, every pending event in the machine in one queue, taken in
/// (time, kind, source, seq) order. Every other engine must reproduce its digest exactly.
/// The queue is a <see cref="RadixEventQueue"/>: the engine's clock only moves forward, and a
/// storm on 8192 CPUs keeps millions of events pending.
/// </summary>
public sealed class ReferenceEngine
{
    private readonly RadixEventQueue _queue = new();
    private readonly MaskAttachments _masks = new();
    private readonly ISimEntity[] _entities;
    private readonly Context _context;
    private readonly SimulationSetup _setup;
    private readonly SyncContract _contract;

    /// <summary>A run of <paramref name="setup"/>; sampled operations go to <paramref name="tracing"/>.</summary>
    public ReferenceEngine(SimulationSetup setup, IOpTraceSink? tracing = null)
    {
        _setup = setup;
        _contract = new SyncContract(setup);
        _entities = new ISimEntity[setup.EntityCount];
        for (var id = 0; id < setup.EntityCount; id++) _entities[id] = setup.CreateEntity(id, tracing);
        _context = new Context(this, setup.EntityCount);
    }

    public long EventsProcessed { get; private set; }

    /// <summary>The CPUs, for what a run records beyond its result (trace records, window snapshots).</summary>
    public IEnumerable<Cpu> Cpus => _entities.OfType<Cpu>();

    /// <summary>
    /// Runs to quiescence, or with <paramref name="until"/> handles only the events before that
    /// virtual time (a prefix of the run, which every engine handles alike). <paramref name="progress"/>
    /// hears the virtual time now and then.
    /// </summary>
    public PolicyResult Run(Action<long>? progress = null, CancellationToken cancellation = default, long until = long.MaxValue)
    {
        foreach (var entity in _entities)
        {
            _context.Enter(entity.Id, 0);
            entity.Start(_context);
        }
        var last = 0L;
        while (_queue.TryPeekTime(out var time) && time < until)
        {
            // Handle the event in its slot: a 64-byte event is not worth copying out.
            ref readonly var e = ref _queue.Take(out var slot);
            _context.Enter(e.Target, time);
            last = time;
            _entities[e.Target].Handle(e, _context);
            // Only now may the slot be reused: the handler was reading from it.
            _queue.Release(slot);
            if ((++EventsProcessed & 0xFFFF) == 0)
            {
                progress?.Invoke(last);
                cancellation.ThrowIfCancellationRequested();
            }
        }
        progress?.Invoke(last);
        return InProcessResult.Collect(_setup, last, EventsProcessed, _entities.OfType<Cpu>().ToList());
    }

    /// <summary>
    /// The context of whichever entity is handling an event. One object serves them all, with
    /// each entity's sequence number in an array: a context object per entity would be one more
    /// cache line to miss per event on an 8192-CPU machine.
    /// </summary>
    private sealed class Context(ReferenceEngine engine, int entities) : ISimContext
    {
        private readonly long[] _seq = new long[entities];
        private int _id;
        public long Now { get; private set; }

        public void Enter(int id, long now)
        {
            _id = id;
            Now = now;
        }

        public void Send(int target, long at, EventKind kind, long op = 0, int arg = 0, long x = 0, long y = 0, int flags = 0, CpuMask? mask = null)
        {
            var e = engine._contract.Stamp(_id, ref _seq[_id], Now, target, at, kind, op, arg, x, y, flags);
            if (mask is not null) engine._masks.Attach(new MaskAttachment(_id, e.Seq, target, mask));
            engine._queue.Add(e);
        }

        public CpuMask AttachedMask(in SimEvent e) => engine._masks.Take(e);
    }
}
