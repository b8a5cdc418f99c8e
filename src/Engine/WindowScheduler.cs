namespace Shootdown.Engine;

/// <summary>
/// The conservative time-window protocol (SST's, with per-entity lookahead), over any set of
/// numbered members: entities inside a partition, or the partitions themselves. Each member
/// reports its earliest output time: no event it sends another can be earlier. The minimum S
/// over all members is the safe time: every member may process its events before S, since
/// nothing still to be sent can land before S. Empty virtual time is skipped because S jumps
/// straight to the next possible output.
/// <para>
/// Processing early is optional. A member runs in a window only when its own output is due
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

    public WindowScheduler(int members, long horizon)
    {
        if (horizon < 1) throw new ArgumentOutOfRangeException(nameof(horizon), horizon, "the horizon must be at least 1 ns");
        _earliestOutput = new long[members];
        Array.Fill(_earliestOutput, long.MaxValue);
        _horizon = horizon;
    }

    public long Windows { get; private set; }

    /// <summary>After a member ran: its earliest output time over the events it still holds.</summary>
    public void Set(int member, long earliestOutput)
    {
        _earliestOutput[member] = earliestOutput;
        if (earliestOutput != long.MaxValue) _byOutput.Enqueue(member, earliestOutput);
    }

    /// <summary>Someone delivered events to <paramref name="member"/> whose earliest output is <paramref name="earliestOutput"/>.</summary>
    public void Delivered(int member, long earliestOutput)
    {
        if (earliestOutput >= _earliestOutput[member]) return;
        _earliestOutput[member] = earliestOutput;
        _byOutput.Enqueue(member, earliestOutput);
    }

    /// <summary>The earliest output time over every member, or false when none holds an event.</summary>
    public bool TryEarliest(out long earliest)
    {
        while (_byOutput.TryPeek(out var m, out var t) && _earliestOutput[m] != t) _byOutput.Dequeue();
        return _byOutput.TryPeek(out _, out earliest);
    }

    /// <summary>
    /// The members to run to <paramref name="safeTime"/> (ascending): those whose earliest output
    /// falls within one horizon of it. Each must be <see cref="Set"/> again once it has run.
    /// </summary>
    public List<int> TakeDue(long safeTime)
    {
        var due = new List<int>();
        while (_byOutput.TryPeek(out var m, out var t) && t < safeTime + _horizon)
        {
            _byOutput.Dequeue();
            if (_earliestOutput[m] != t) continue;
            _earliestOutput[m] = long.MaxValue;
            due.Add(m);
        }
        due.Sort();
        return due;
    }

    /// <summary>The next window's safe time and the members to run to it (ascending), or false when no event is pending anywhere.</summary>
    public bool TryNextWindow(out long safeTime, out List<int> due)
    {
        due = [];
        if (!TryEarliest(out safeTime)) return false;
        due = TakeDue(safeTime);
        Windows++;
        return true;
    }
}
