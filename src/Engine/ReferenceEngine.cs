using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Model.Safety;
using Shootdown.Model.Simulation;
using Shootdown.Model.Topology;
using Shootdown.Model.Tracing;

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
    private readonly RunBuffers _buffers = new();
    private readonly MaskAttachments _masks = new();
    private SimEvent[] _sent;
    private int _sentCount;
    private readonly ISimEntity[] _entities;
    private readonly Context[] _contexts;
    private readonly SimulationSetup _setup;
    private readonly SyncContract _contract;

    /// <summary>A run of <paramref name="setup"/>; sampled operations go to <paramref name="tracing"/>.</summary>
    public ReferenceEngine(SimulationSetup setup, IOpTraceSink? tracing = null)
    {
        _setup = setup;
        _contract = new SyncContract(setup);
        _entities = new ISimEntity[setup.EntityCount];
        _contexts = new Context[setup.EntityCount];
        for (var id = 0; id < setup.EntityCount; id++)
        {
            _entities[id] = setup.CreateEntity(id, tracing);
            _contexts[id] = new Context(this, id);
        }
        _sent = _buffers.Rent(RunBuffers.Smallest);
    }

    public long EventsProcessed { get; private set; }

    /// <summary>The CPUs, for what a run records beyond its result (trace records, window snapshots).</summary>
    public IEnumerable<Cpu> Cpus => _entities.OfType<Cpu>();

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
            // Handle the event where it lies in its run: a 64-byte event is not worth copying.
            ref readonly var e = ref run.Events[run.Next++];
            var exhausted = run.Next == run.Count;
            if (exhausted) _runs.Dequeue();
            else _runs.DequeueEnqueue(run, run.Events[run.Next].Key);

            var ctx = _contexts[e.Target];
            ctx.Now = e.Time;
            last = e.Time;
            _entities[e.Target].Handle(e, ctx);
            // Only now may the run's buffer be reused: the handler was reading from it.
            if (exhausted) _buffers.Return(run.Events);
            FlushSent();
            if ((++EventsProcessed & 0xFFFF) == 0)
            {
                progress?.Invoke(last);
                cancellation.ThrowIfCancellationRequested();
            }
        }
        progress?.Invoke(last);
        var cpus = _entities.OfType<Cpu>().ToList();
        SafetyReport? safety = null;
        if (_setup.ChecksSafety)
        {
            var retires = SafetyChecker.Order(cpus.SelectMany(c => c.Retires));
            safety = SafetyChecker.Report(retires, cpus.Select(c => SafetyChecker.CheckCpu(_setup, c.Walks, retires)));
        }
        return PolicyResult.Collect(_setup.Policy.Name, last, EventsProcessed,
            cpus.Select(c => (c.Id, c.Stats, (IEnumerable<OpRecord>)c.CompletedOps)),
            _setup.RealtimeCpus, safety);
    }

    /// <summary>Turns what the last handler sent into one sorted run; its pooled buffer goes with it.</summary>
    private void FlushSent()
    {
        if (_sentCount == 0) return;
        var events = _sent;
        var count = _sentCount;
        _sent = _buffers.Rent(RunBuffers.Smallest);
        _sentCount = 0;
        if (!IsSorted(events, count)) Array.Sort(events, 0, count, EventOrder.Instance);
        _runs.Enqueue(new SortedRun(events, count), events[0].Key);
    }

    private void Add(in SimEvent e)
    {
        if (_sentCount == _sent.Length)
        {
            var bigger = _buffers.Rent(_sent.Length * 2);
            Array.Copy(_sent, bigger, _sentCount);
            _buffers.Return(_sent);
            _sent = bigger;
        }
        _sent[_sentCount++] = e;
    }

    private static bool IsSorted(SimEvent[] events, int count)
    {
        for (var i = 1; i < count; i++)
            if (events[i - 1].Key.CompareTo(events[i].Key) > 0) return false;
        return true;
    }

    private sealed class EventOrder : IComparer<SimEvent>
    {
        public static EventOrder Instance { get; } = new();
        public int Compare(SimEvent a, SimEvent b) => a.Key.CompareTo(b.Key);
    }

    /// <summary>
    /// Run buffers by power-of-two size, kept for reuse and never freed: a storm keeps hundreds
    /// of 8191-event broadcasts in flight, more than a shared pool holds, and allocating them
    /// afresh would put the large-object heap and the GC on the critical path. Single-threaded.
    /// </summary>
    private sealed class RunBuffers
    {
        public const int Smallest = 16;
        private readonly Stack<SimEvent[]>[] _free = Enumerable.Range(0, 31).Select(_ => new Stack<SimEvent[]>()).ToArray();

        public SimEvent[] Rent(int size)
        {
            var bucket = System.Numerics.BitOperations.Log2((uint)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)size));
            return _free[bucket].TryPop(out var buffer) ? buffer : new SimEvent[1 << bucket];
        }

        public void Return(SimEvent[] buffer) => _free[System.Numerics.BitOperations.Log2((uint)buffer.Length)].Push(buffer);
    }

    private sealed class SortedRun(SimEvent[] events, int count)
    {
        public SimEvent[] Events { get; } = events;
        public int Count { get; } = count;
        public int Next { get; set; }
    }

    private sealed class Context(ReferenceEngine engine, int id) : ISimContext
    {
        private long _seq;
        public int Id { get; } = id;
        public long Now { get; set; }

        public void Send(int target, long at, EventKind kind, long op = 0, int arg = 0, long x = 0, long y = 0, int flags = 0, CpuMask? mask = null)
        {
            var e = engine._contract.Stamp(Id, ref _seq, Now, target, at, kind, op, arg, x, y, flags);
            if (mask is not null) engine._masks.Attach(new MaskAttachment(Id, e.Seq, target, mask));
            engine.Add(e);
        }

        public CpuMask AttachedMask(in SimEvent e) => engine._masks.Take(e);
    }
}
