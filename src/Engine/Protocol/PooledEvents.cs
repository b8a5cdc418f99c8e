using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Shootdown.Model.Simulation;

namespace Shootdown.Engine;

/// <summary>
/// A growing run of events kept in fixed-size chunks from a <see cref="ChunkPool"/>. Adding never
/// copies what is already there, and taking the events returns the chunks. A storm's broadcasts
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

    /// <summary>The events in the order added, in an array of their own; the chunks go back to the pool.</summary>
    public SimEvent[] Take()
    {
        var events = ToArray();
        Clear();
        return events;
    }

    /// <summary>Empties it and returns the chunks to the pool.</summary>
    public void Clear()
    {
        foreach (var chunk in _chunks) pool.Return(chunk);
        _chunks.Clear();
        _filling = [];
        Count = 0;
    }

    /// <summary>How many chunks hold its events.</summary>
    public int ChunkCount => _chunks.Count;

    /// <summary>The events of chunk <paramref name="c"/>, in the order added.</summary>
    public ReadOnlySpan<SimEvent> Chunk(int c) => _chunks[c].AsSpan(0, ChunkLength(c));

    /// <summary>The events in the order added, in an array of their own; they stay here too.</summary>
    public SimEvent[] ToArray()
    {
        if (Count == 0) return [];
        var events = new SimEvent[Count];
        for (var c = 0; c < _chunks.Count; c++) _chunks[c].AsSpan(0, ChunkLength(c)).CopyTo(events.AsSpan(c * ChunkPool.ChunkSize));
        return events;
    }

    /// <summary>The events in the order added, as views of the chunks: valid until the next change here.</summary>
    public IEnumerable<ReadOnlyMemory<SimEvent>> Chunks()
    {
        for (var c = 0; c < _chunks.Count; c++) yield return _chunks[c].AsMemory(0, ChunkLength(c));
    }

    /// <summary>How many events chunk <paramref name="c"/> holds: all but the last are full.</summary>
    private int ChunkLength(int c) => Math.Min(ChunkPool.ChunkSize, Count - c * ChunkPool.ChunkSize);
}

/// <summary>
/// Chunks for <see cref="PooledEvents"/>, one pool per partition, used by one thread at a time and
/// so without locks (a partition grain runs one turn at a time). It keeps at most
/// <see cref="MaxKept"/> chunks; a larger burst's extra chunks are left to the GC.
/// </summary>
public sealed class ChunkPool
{
    /// <summary>
    /// Events per chunk: 2 KiB. Small, because a sync to every CPU leaves one csd in each of
    /// thousands of inboxes at once; large enough that a broadcast's outbox is a few hundred chunks.
    /// </summary>
    public const int ChunkSize = 32;

    private const int MaxKept = 4096;
    private readonly Stack<SimEvent[]> _free = new();

    public SimEvent[] Rent() => _free.TryPop(out var chunk) ? chunk : new SimEvent[ChunkSize];

    public void Return(SimEvent[] chunk)
    {
        // PooledEvents.Add writes a chunk without bounds checks, trusting every chunk to hold ChunkSize events.
        if (chunk.Length != ChunkSize) throw new ArgumentException($"a chunk of {chunk.Length} events, not {ChunkSize}", nameof(chunk));
        if (_free.Count < MaxKept) _free.Push(chunk);
    }
}

/// <summary>
/// Events gathered in one array that is kept, at its largest size, from window to window: what a
/// partition's entities send in a window (each entity's step is a view of its stretch). Views stay
/// valid until <see cref="Clear"/>; the array may be replaced by a larger one meanwhile, which
/// leaves the earlier views on the old one, unchanged.
/// </summary>
public sealed class EventBuffer
{
    private SimEvent[] _events = new SimEvent[64];
    private int _count, _taken;

    public void Add(in SimEvent e)
    {
        if (_count == _events.Length) Array.Resize(ref _events, _count * 2);
        _events[_count++] = e;
    }

    /// <summary>The events added since the last call (or <see cref="Clear"/>), as a view.</summary>
    public ReadOnlyMemory<SimEvent> TakeAdded()
    {
        var added = _events.AsMemory(_taken, _count - _taken);
        _taken = _count;
        return added;
    }

    /// <summary>Empties the buffer: every view taken so far is done with.</summary>
    public void Clear() => _count = _taken = 0;

}
