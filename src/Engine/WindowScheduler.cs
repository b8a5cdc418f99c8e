namespace Shootdown.Engine;

/// <summary>
/// The conservative time-window protocol, as SST runs it: the next window starts at the
/// earliest pending event anywhere (skipping empty virtual time) and is one lookahead long, so
/// nothing sent inside it can land inside it. Only entities with an event in the window run.
/// </summary>
public sealed class WindowScheduler
{
    private readonly long[] _next;
    private readonly PriorityQueue<int, long> _due = new();
    private readonly long _lookahead;

    public WindowScheduler(int entities, long lookahead)
    {
        _next = new long[entities];
        Array.Fill(_next, long.MaxValue);
        _lookahead = lookahead;
    }

    public long Windows { get; private set; }

    /// <summary>An entity's earliest pending event is now at <paramref name="time"/>.</summary>
    public void SetNext(int entity, long time)
    {
        _next[entity] = time;
        if (time != long.MaxValue) _due.Enqueue(entity, time);
    }

    /// <summary>Someone delivered an event for <paramref name="time"/> to <paramref name="entity"/>.</summary>
    public void Delivered(int entity, long time)
    {
        if (time < _next[entity]) SetNext(entity, time);
    }

    /// <summary>The next window's end and the entities due in it (ascending ids), or false when nothing is pending.</summary>
    public bool TryNextWindow(out long windowEnd, out List<int> entities)
    {
        entities = new List<int>();
        windowEnd = 0;
        while (_due.TryPeek(out var e, out var t) && _next[e] != t) _due.Dequeue();
        if (!_due.TryPeek(out _, out var start)) return false;
        windowEnd = start + _lookahead;
        var seen = new HashSet<int>();
        while (_due.TryPeek(out var e, out var t) && t < windowEnd)
        {
            _due.Dequeue();
            if (_next[e] == t && seen.Add(e)) entities.Add(e);
        }
        entities.Sort();
        Windows++;
        return true;
    }
}
