using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
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
    private readonly RunHeap _runs = new();
    private readonly RunBuffers _buffers = new();
    private readonly MaskAttachments _masks = new();
    private SimEvent[] _sent;
    private int _sentCount;
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
        _sent = _buffers.Rent(RunBuffers.Gathering);
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
            FlushSent();
        }
        var last = 0L;
        while (_runs.Count > 0 && _runs.TopTime < until)
        {
            // Handle the event where it lies in its run: a 64-byte event is not worth copying.
            ref var run = ref _runs.Top;
            ref readonly var e = ref run.Events[run.Next++];
            var events = run.Events;
            var exhausted = run.Next == run.Count;
            if (exhausted) _runs.Pop();
            else _runs.TopKeyChanged(run.Events[run.Next].Key);

            _context.Enter(e.Target, e.Time);
            last = e.Time;
            _entities[e.Target].Handle(e, _context);
            // Only now may the run's buffer be reused: the handler was reading from it.
            if (exhausted) _buffers.Return(events);
            FlushSent();
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
    /// Turns what the last handler sent into one sorted run, in a pooled buffer of its own size: most
    /// handlers send one event (an answer, an ack, an IPI), and a storm keeps millions of those
    /// waiting, so a run does not keep the larger buffer the sends were gathered in.
    /// </summary>
    private void FlushSent()
    {
        if (_sentCount == 0) return;
        var count = _sentCount;
        _sentCount = 0;
        SimEvent[] events;
        if (RunBuffers.SizeFor(count) < _sent.Length)
        {
            events = _buffers.Rent(count);
            Array.Copy(_sent, events, count);
        }
        else
        {
            events = _sent;
            _sent = _buffers.Rent(RunBuffers.Gathering);
        }
        if (!IsSorted(events, count)) Array.Sort(events, 0, count, EventOrder.Instance);
        _runs.Push(new SortedRun(events, count), events[0].Key);
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
        /// <summary>The buffer a handler's sends are gathered in to begin with.</summary>
        public const int Gathering = 16;
        private readonly Stack<SimEvent[]>[] _free = Enumerable.Range(0, 31).Select(_ => new Stack<SimEvent[]>()).ToArray();

        /// <summary>The length of the buffer <see cref="Rent"/> gives for <paramref name="size"/> events.</summary>
        public static int SizeFor(int size) => (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)size);

        public SimEvent[] Rent(int size)
        {
            var length = SizeFor(size);
            return _free[System.Numerics.BitOperations.Log2((uint)length)].TryPop(out var buffer) ? buffer : new SimEvent[length];
        }

        public void Return(SimEvent[] buffer) => _free[System.Numerics.BitOperations.Log2((uint)buffer.Length)].Push(buffer);
    }

    /// <summary>A handler's sends, sorted; <see cref="Next"/> is the first not yet handled.</summary>
    private struct SortedRun(SimEvent[] events, int count)
    {
        public readonly SimEvent[] Events = events;
        public readonly int Count = count;
        public int Next;
    }

    /// <summary>
    /// The runs by the key of their next event: a 4-ary min-heap whose entries hold the key
    /// inline, beside the run itself, so that a sift compares two words per child and follows no
    /// reference. The top run is changed in place and sifted down once.
    /// </summary>
    private sealed class RunHeap
    {
        private EventKey[] _keys = new EventKey[1024];
        private SortedRun[] _items = new SortedRun[1024];

        public int Count { get; private set; }

        public ref SortedRun Top => ref _items[0];

        /// <summary>The time of the top run's next event.</summary>
        public long TopTime => _keys[0].Time;

        public void Push(in SortedRun run, EventKey key)
        {
            if (Count == _keys.Length)
            {
                Array.Resize(ref _keys, Count * 2);
                Array.Resize(ref _items, Count * 2);
            }
            var i = Count++;
            while (i > 0)
            {
                var parent = (i - 1) >> 2;
                if (key.CompareTo(_keys[parent]) >= 0) break;
                _keys[i] = _keys[parent];
                _items[i] = _items[parent];
                i = parent;
            }
            _keys[i] = key;
            _items[i] = run;
        }

        public void Pop()
        {
            var last = --Count;
            _items[0] = default;
            if (last > 0) SiftDown(_items[last], _keys[last]);
            _items[last] = default;
        }

        public void TopKeyChanged(EventKey key) => SiftDown(_items[0], key);

        /// <summary>Puts <paramref name="run"/> with <paramref name="key"/> at the root's place and sifts it down.</summary>
        private void SiftDown(SortedRun run, EventKey key)
        {
            var keys = _keys;
            var items = _items;
            var n = Count;
            var i = 0;
            while (true)
            {
                var first = (i << 2) + 1;
                if (first >= n) break;
                var best = first;
                var bestKey = keys[first];
                var end = Math.Min(first + 4, n);
                for (var c = first + 1; c < end; c++)
                {
                    if (keys[c].CompareTo(bestKey) < 0)
                    {
                        best = c;
                        bestKey = keys[c];
                    }
                }
                if (key.CompareTo(bestKey) <= 0) break;
                keys[i] = bestKey;
                items[i] = items[best];
                i = best;
            }
            keys[i] = key;
            items[i] = run;
        }
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
            engine.Add(e);
        }

        public CpuMask AttachedMask(in SimEvent e) => engine._masks.Take(e);
    }
}
