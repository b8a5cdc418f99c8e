using Shootdown.Model.Simulation;
using Shootdown.Model.State;
using Shootdown.Protocol;

namespace Shootdown.Engine;

/// <summary>
/// The conservative time-window protocol (SST's, with per-entity lookahead, and a safe time per
/// kind of entity), over any set of numbered members: entities inside a partition, or the
/// partitions themselves. Each member reports its frontier: the earliest time it could write
/// a CPU's state and an mm's (its earliest output), and its earliest pending event on a CPU and
/// on an mm. The safe times are the minimum outputs over every member: CPUs may process their
/// events before the CPU safe time, mms before the mm safe time, since nothing still to be sent
/// can land before them. Empty virtual time is skipped because the safe times jump straight to
/// the next possible output, and a CPU whose work concerns only mms (its thread schedule and
/// the cpumask bits it sets) is not held back by them.
/// <para>
/// Processing early is optional. A member runs in a window when one of its outputs is due within
/// one horizon of a safe time (so a broadcast target lands its csd, takes the interrupt and
/// acknowledges in one call), or when its earliest event lies more than the catch-up lag behind
/// its safe time (so a long stretch of a schedule is worked through in one call). The others keep
/// their events for a later window, in which they are still processed in (time, kind, source,
/// seq) order, so the result is unchanged. When no member can write another any more, every
/// member still holding events runs to the end.
/// </para>
/// </summary>
public sealed class WindowScheduler
{
    private readonly Frontier[] _frontier;
    private readonly PriorityQueue<int, long>[] _queues = [new(), new(), new(), new()];
    private readonly SyncContract _contract;

    public WindowScheduler(int members, SyncContract contract)
    {
        _frontier = new Frontier[members];
        Array.Fill(_frontier, Frontier.Idle);
        _contract = contract;
    }

    public long Windows { get; private set; }

    /// <summary>After a member ran: its frontier over the events it still holds.</summary>
    public void Set(int member, Frontier frontier)
    {
        _frontier[member] = frontier;
        for (var q = 0; q < _queues.Length; q++)
            if (frontier[q] != long.MaxValue) _queues[q].Enqueue(member, frontier[q]);
    }

    /// <summary>Someone delivered events to <paramref name="member"/> whose own frontier is <paramref name="delivered"/>.</summary>
    public void Delivered(int member, Frontier delivered)
    {
        var frontier = _frontier[member];
        var lowered = frontier.Min(delivered);
        if (lowered == frontier) return;
        _frontier[member] = lowered;
        for (var q = 0; q < _queues.Length; q++)
            if (lowered[q] < frontier[q]) _queues[q].Enqueue(member, lowered[q]);
    }

    /// <summary>The frontier of all members together: each part's minimum over them.</summary>
    public Frontier Earliest => new(new EntityTimes(Head(Frontier.OutputToCpu), Head(Frontier.OutputToMm)),
        new EntityTimes(Head(Frontier.NextOnCpu), Head(Frontier.NextOnMm)));

    /// <summary>The smallest current value in one queue, dropping entries that a later Set or Delivered replaced.</summary>
    private long Head(int queue)
    {
        var q = _queues[queue];
        while (q.TryPeek(out var m, out var t) && _frontier[m][queue] != t) q.Dequeue();
        return q.TryPeek(out _, out var head) ? head : long.MaxValue;
    }

    /// <summary>
    /// The members to run to <paramref name="safe"/> (ascending): those with an output due within
    /// one horizon of a safe time, or an event more than the catch-up lag behind their own; and,
    /// once a safe time has reached <paramref name="until"/>, every member with an event before it.
    /// Each must be <see cref="Set"/> again once it has run.
    /// </summary>
    public List<int> TakeDue(EntityTimes safe, long until = long.MaxValue)
    {
        var due = new List<int>();
        Take(Frontier.OutputToCpu, Before(safe.Cpu, _contract.Horizon, until), due);
        Take(Frontier.OutputToMm, Before(safe.Mm, _contract.Horizon, until), due);
        Take(Frontier.NextOnCpu, Before(safe.Cpu, -_contract.CatchUpLag, until), due);
        Take(Frontier.NextOnMm, Before(safe.Mm, -_contract.CatchUpLag, until), due);
        due.Sort();
        return due;
    }

    /// <summary>
    /// The bound a due member's value must be below: <paramref name="safe"/> shifted by
    /// <paramref name="by"/>; everything when nothing is safe any more; everything before the
    /// run's end when the safe time is that end.
    /// </summary>
    private static long Before(long safe, long by, long until) =>
        safe == long.MaxValue ? long.MaxValue : safe >= until ? until : safe + by;

    private void Take(int queue, long before, List<int> due)
    {
        var q = _queues[queue];
        while (q.TryPeek(out var m, out var t) && t < before)
        {
            q.Dequeue();
            if (_frontier[m][queue] != t) continue;
            _frontier[m] = Frontier.Idle;
            due.Add(m);
        }
    }

    /// <summary>
    /// The next window's safe times and the members to run to them (ascending), or false when no
    /// event is pending anywhere (before <paramref name="until"/>, when the run stops there: the
    /// safe times never pass it, so exactly the events before it are handled).
    /// </summary>
    public bool TryNextWindow(out EntityTimes safe, out List<int> due, long until = long.MaxValue)
    {
        due = [];
        // The safe times come from the earliest outputs over every member.
        var earliest = Earliest;
        safe = _contract.SafeTimes(earliest.Output);
        if (earliest == Frontier.Idle || earliest.Next.Cpu >= until && earliest.Next.Mm >= until) return false;
        if (until != long.MaxValue) safe = new EntityTimes(Math.Min(safe.Cpu, until), Math.Min(safe.Mm, until));
        due = TakeDue(safe, until);
        Windows++;
        return true;
    }
}
