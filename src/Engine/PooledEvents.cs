using System.Buffers;
using Shootdown.Model.Simulation;

namespace Shootdown.Engine;

/// <summary>
/// A growing run of events kept in fixed-size chunks from the shared array pool. Adding never
/// copies what is already there, and taking the events returns the chunks. A storm's broadcasts
/// pass through thousands of these at once (an initiator's outbox, a target's inbox, a batch for
/// another partition): lists that doubled would copy every event several times over, and
/// keeping each at its largest would hold a burst's memory for the rest of the run.
/// </summary>
public sealed class PooledEvents
{
    private const int ChunkSize = 256;
    private readonly List<SimEvent[]> _chunks = new();

    public int Count { get; private set; }

    public void Add(in SimEvent e)
    {
        var offset = Count % ChunkSize;
        if (offset == 0) _chunks.Add(ArrayPool<SimEvent>.Shared.Rent(ChunkSize));
        _chunks[^1][offset] = e;
        Count++;
    }

    /// <summary>The events in the order added, in an array of their own; the chunks go back to the pool.</summary>
    public SimEvent[] Take()
    {
        if (Count == 0) return [];
        var events = new SimEvent[Count];
        for (var c = 0; c < _chunks.Count; c++)
        {
            _chunks[c].AsSpan(0, Math.Min(ChunkSize, Count - c * ChunkSize)).CopyTo(events.AsSpan(c * ChunkSize));
            ArrayPool<SimEvent>.Shared.Return(_chunks[c]);
        }
        _chunks.Clear();
        Count = 0;
        return events;
    }
}
