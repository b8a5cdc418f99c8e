namespace Shootdown.Engine;

/// <summary>
/// The conservative time-window protocol (SST's, with per-entity lookahead). Each entity
/// reports its earliest output time: no event it sends another can be earlier. The minimum S
/// over all entities is the safe time: every entity may process its events before S, since
/// nothing still to be sent can land before S. Empty virtual time is skipped because S jumps
/// straight to the next possible output.
/// <para>
/// Processing early is optional. An entity runs in a window only when its own output is due
/// within one horizon of S; the others keep their events for a later window, in which they are
/// still processed in (time, kind, source, seq) order, so the result is unchanged and a
/// broadcast target lands its csd, takes the interrupt and acknowledges in one call.
/// </para>
/// </summary>
public sealed class WindowScheduler
{
    private readonly long[] _earliestOutput;
    private readonly PriorityQueue<int, long> _byOutput = new();
    private readonly long _horizon;

    public WindowScheduler(int entities, long horizon)
    {
        if (horizon < 1) throw new ArgumentOutOfRangeException(nameof(horizon), horizon, "the horizon must be at least 1 ns");
        _earliestOutput = new long[entities];
        Array.Fill(_earliestOutput, long.MaxValue);
        _horizon = horizon;
    }

    public long Windows { get; private set; }

    /// <summary>After an entity ran: its earliest output time over the events it still holds.</summary>
    public void Set(int entity, long earliestOutput)
    {
        _earliestOutput[entity] = earliestOutput;
        if (earliestOutput != long.MaxValue) _byOutput.Enqueue(entity, earliestOutput);
    }

    /// <summary>Someone delivered events to <paramref name="entity"/> whose earliest output is <paramref name="earliestOutput"/>.</summary>
    public void Delivered(int entity, long earliestOutput)
    {
        if (earliestOutput >= _earliestOutput[entity]) return;
        _earliestOutput[entity] = earliestOutput;
        _byOutput.Enqueue(entity, earliestOutput);
    }

    /// <summary>The next window's safe time and the entities to run to it (ascending ids), or false when no event is pending anywhere.</summary>
    public bool TryNextWindow(out long safeTime, out List<int> entities)
    {
        entities = new List<int>();
        safeTime = 0;
        while (_byOutput.TryPeek(out var e, out var t) && _earliestOutput[e] != t) _byOutput.Dequeue();
        if (!_byOutput.TryPeek(out _, out safeTime)) return false;
        var seen = new HashSet<int>();
        while (_byOutput.TryPeek(out var e, out var t) && t < safeTime + _horizon)
        {
            _byOutput.Dequeue();
            if (_earliestOutput[e] == t && seen.Add(e)) entities.Add(e);
        }
        entities.Sort();
        Windows++;
        return true;
    }
}
