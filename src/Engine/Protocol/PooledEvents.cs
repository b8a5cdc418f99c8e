using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Shootdown.Model.Simulation;

namespace Shootdown.Engine;

/// <summary>
/// A growing run of events kept in fixed-size chunks from a <see cref="ChunkPool"/>. Adding never
/// copies what is already there; clearing returns the chunks to the pool, and handing the events
/// over gives the chunks away with them. A storm's broadcasts
/// pass through thousands of these at once (an initiator's outbox, a target's inbox, a batch for
/// another partition): lists that doubled would copy every event several times over, and
/// keeping each at its largest would hold a burst's memory for the rest of the run.
/// </summary>
public sealed class PooledEvents(ChunkPool pool)
{
    private readonly List<SimEvent[]> _chunks = new();
    /// <summary>
    /// The last chunk, which adds fill. A field of its own: a storm spreads its events over
    /// thousands of these lists, one per target, and reading the list's array and its last
    /// chunk's length on every add missed the cache twice per event.
    /// </summary>
    private SimEvent[] _filling = [];

    public int Count { get; private set; }

    public void Add(in SimEvent e)
    {
        var offset = Count % ChunkPool.ChunkSize;
        if (offset == 0)
        {
            _filling = pool.Rent();
            _chunks.Add(_filling);
        }
        // Every chunk holds ChunkSize events and offset is below that: no bounds check, which
        // would read the chunk's length, a line of its own.
        Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_filling), offset) = e;
        Count++;
    }

    /// <summary>
    /// The events in the order added, as views of their chunks: valid until the list next
    /// changes. A due entity reads its events this way where they lie, in process or in a grain
    /// call, which carries the views as they are when local and writes them as one list when not.
    /// </summary>
    public ReadOnlyMemory<SimEvent>[] Runs()
    {
        // Most due entities find nothing here in process (their events went to them at once): no array for none.
        if (_chunks.Count == 0) return [];
        var runs = new ReadOnlyMemory<SimEvent>[_chunks.Count];
        for (var c = 0; c < runs.Length; c++) runs[c] = _chunks[c].AsMemory(0, ChunkLength(c));
        return runs;
    }

    /// <summary>
    /// The events as <see cref="Runs"/> gives them, with their chunks: the list is emptied without
    /// returning them to its pool, and whoever reads the views owns the chunks
    /// (<see cref="ChunkPool.Adopt"/>). A batch for another partition leaves this way, uncopied.
    /// </summary>
    public ReadOnlyMemory<SimEvent>[] HandOver()
    {
        var runs = Runs();
        _chunks.Clear();
        _filling = [];
        Count = 0;
        return runs;
    }

    /// <summary>Empties it and returns the chunks to the pool.</summary>
    public void Clear()
    {
        foreach (var chunk in _chunks) pool.Return(chunk);
        _chunks.Clear();
        _filling = [];
        Count = 0;
    }

    /// <summary>How many events chunk <paramref name="c"/> holds: all but the last are full.</summary>
    private int ChunkLength(int c) => Math.Min(ChunkPool.ChunkSize, Count - c * ChunkPool.ChunkSize);
}

/// <summary>
/// Chunks for <see cref="PooledEvents"/>, one pool per partition, used by one thread at a time and
/// so without locks (a partition grain runs one turn at a time). It keeps at most
/// <paramref name="maxKept"/> chunks; a larger burst's extra chunks are left to the GC. Chunks move
/// between partitions' pools with the batches that carry them.
/// </summary>
public sealed class ChunkPool(int maxKept = ChunkPool.KeptByDefault)
{
    /// <summary>
    /// Events per chunk: 2 KiB. Small, because a sync to every CPU leaves one csd in each of
    /// thousands of inboxes at once; large enough that a broadcast's outbox is a few hundred chunks.
    /// </summary>
    public const int ChunkSize = 32;

    /// <summary>
    /// 4,096 chunks (8 MiB), on grains. There an entity's answers reach its partition in arrays of
    /// their own, call by call, which the collector must find room for too: chunks kept for the next
    /// peak would sit beside them (keeping 65,536, the one-core grain <c>storm-long</c> peaked 250 MiB
    /// higher, in as long).
    /// </summary>
    public const int KeptByDefault = 4096;

    /// <summary>
    /// 65,536 chunks (128 MiB), in process, where what a window moves travels in chunks from end to
    /// end: about what a storm's partition has out at once (a round leaves two million events, some
    /// 64,000 chunks, in its inboxes; keeping 2^18 ran no faster), so each window reuses the last
    /// one's chunks, and the pool never holds more than the run once needed. Keeping 4,096 left the
    /// rest to the collector every window (380 MB of chunks allocated over the parallel storm).
    /// </summary>
    public const int KeptInProcess = 1 << 16;

    private readonly Stack<SimEvent[]> _free = new();

    public SimEvent[] Rent() => _free.TryPop(out var chunk) ? chunk : new SimEvent[ChunkSize];

    public void Return(SimEvent[] chunk)
    {
        // PooledEvents.Add writes a chunk without bounds checks, trusting every chunk to hold ChunkSize events.
        if (chunk.Length != ChunkSize) throw new ArgumentException($"a chunk of {chunk.Length} events, not {ChunkSize}", nameof(chunk));
        if (_free.Count < maxKept) _free.Push(chunk);
    }

    /// <summary>
    /// Takes in the chunk under a run another partition's list handed over (<see cref="PooledEvents.HandOver"/>),
    /// now read. A run over an array of another length (a batch that came over the wire, in one
    /// array) is left to the collector.
    /// </summary>
    public void Adopt(ReadOnlyMemory<SimEvent> run)
    {
        if (MemoryMarshal.TryGetArray(run, out var segment) && segment.Array is { Length: ChunkSize } chunk) Return(chunk);
    }
}

/// <summary>
/// Events gathered in arrays that are kept from window to window: what an entity, or a partition's
/// entities, send in a window (each entity's step is a view of its stretch, which always lies in
/// one array). Views stay valid until <see cref="Clear"/>.
/// <para>
/// When an array fills, the stretch not yet taken moves on to the next one, twice as long up to
/// <c>maxSegmentLength</c>, and the arrays before it stay as they are under the views taken from
/// them. Nothing already taken is copied, and with a cap the buffer grows by segments rather than
/// by doubling: a storm's targets answer two million csds in one window from one partition, and
/// doubling one array to hold that 128 MiB would first fill 128 MiB of smaller ones and leave them
/// behind, memory touched once (microseconds a page on a virtual machine) and kept until the
/// collector's next full pass. Arrays are made uncleared (every slot is written before it is read),
/// so a page of one is first touched when an event is written there.
/// </para>
/// </summary>
public sealed class EventBuffer
{
    private readonly int _maxSegmentLength;
    private readonly List<SimEvent[]> _segments;
    /// <summary>The array being filled, <see cref="_segments"/>[<see cref="_segment"/>], how much of it is used, and how much of that was taken.</summary>
    private SimEvent[] _events;
    private int _segment, _count, _taken;

    /// <param name="maxSegmentLength">
    /// The longest array made for a stretch that fits in it: a partition's outbox caps it; a grain
    /// silo's per-thread outbox, which holds one entity's sends at a time, does not, and keeps the
    /// longest it needed.
    /// </param>
    public EventBuffer(int maxSegmentLength = int.MaxValue)
    {
        _maxSegmentLength = maxSegmentLength;
        _events = GC.AllocateUninitializedArray<SimEvent>(64);
        _segments = [_events];
    }

    public void Add(in SimEvent e)
    {
        if (_count == _events.Length) NextSegment();
        _events[_count++] = e;
    }

    /// <summary>The next array, made or lengthened where needed, with the stretch not yet taken moved to its start.</summary>
    private void NextSegment()
    {
        var pending = _count - _taken;
        var length = Math.Max(2 * pending, (int)Math.Min(2L * _events.Length, _maxSegmentLength));
        _segment++;
        if (_segment == _segments.Count) _segments.Add(GC.AllocateUninitializedArray<SimEvent>(length));
        else if (_segments[_segment].Length < length) _segments[_segment] = GC.AllocateUninitializedArray<SimEvent>(length);
        var next = _segments[_segment];
        _events.AsSpan(_taken, pending).CopyTo(next);
        (_events, _count, _taken) = (next, pending, 0);
    }

    /// <summary>The events added since the last call (or <see cref="Clear"/>), as a view.</summary>
    public ReadOnlyMemory<SimEvent> TakeAdded()
    {
        var added = _events.AsMemory(_taken, _count - _taken);
        _taken = _count;
        return added;
    }

    /// <summary>
    /// Empties the buffer: every view taken so far is done with. It starts again from the first of
    /// its longest arrays; the shorter ones before it were only the way there and are let go.
    /// </summary>
    public void Clear()
    {
        var longest = 0;
        for (var i = 1; i < _segments.Count; i++)
            if (_segments[i].Length > _segments[longest].Length) longest = i;
        _segments.RemoveRange(0, longest);
        (_events, _segment, _count, _taken) = (_segments[0], 0, 0, 0);
    }
}
