using Shootdown.Model.Simulation;
using Shootdown.Protocol;

namespace Shootdown.Engine;

/// <summary>
/// The coordinator's side of the window protocol, whatever carries it: it holds no model state,
/// only what each partition last reported. Per window it names the safe times and the due
/// partitions (a <see cref="WindowScheduler"/> over partitions); each due partition runs and
/// reports, and the reports are applied before the next window is chosen.
/// </summary>
public sealed class WindowCoordinator
{
    private readonly WindowScheduler _scheduler;
    private readonly PartitionStep?[] _latest;

    /// <param name="until">Where the run stops: only events before this virtual time are handled (by default, every event).</param>
    public WindowCoordinator(int partitions, SyncContract contract, long until = long.MaxValue)
    {
        Until = until;
        _scheduler = new WindowScheduler(partitions, contract);
        _latest = new PartitionStep?[partitions];
    }

    public int Partitions => _latest.Length;

    /// <summary>Only events before this virtual time are handled.</summary>
    public long Until { get; }

    /// <summary>Windows chosen so far.</summary>
    public long Windows => _scheduler.Windows;

    /// <summary>The earliest safe time of the last window: how far the run has got in virtual time.</summary>
    public long VirtualTime { get; private set; }

    /// <summary>Events handled so far, over every partition's latest report.</summary>
    public long EventsProcessed
    {
        get
        {
            var sum = 0L;
            foreach (var s in _latest) sum += s?.EventsProcessed ?? 0;
            return sum;
        }
    }

    /// <summary>
    /// The run's span in events: over every window, the most events one partition handled in it.
    /// With a core per partition and every event costing alike, no run of this partitioning
    /// takes less than this many events one after another, so <see cref="EventsProcessed"/> over
    /// it bounds the speedup over one partition (work over span, as Cilk counts parallelism),
    /// whatever the transport; routing, and events that cost more than others, come on top.
    /// </summary>
    public long SpanEvents { get; private set; }

    /// <summary>The time of the last event any entity handled.</summary>
    public long LastEventTime
    {
        get
        {
            var last = 0L;
            foreach (var s in _latest) last = Math.Max(last, s?.LastEventTime ?? 0);
            return last;
        }
    }

    /// <summary>The next window's safe times and the partitions to run to them (ascending), or false when no event is pending anywhere: the run is over.</summary>
    public bool TryNextWindow(out EntityTimes safe, out List<int> due)
    {
        if (!_scheduler.TryNextWindow(out safe, out due, Until)) return false;
        if (safe.Earliest != long.MaxValue) VirtualTime = safe.Earliest;
        return true;
    }

    /// <summary>
    /// Takes the virtual time a resumed run starts from, and the span of the windows before it
    /// (the resumed run may choose its windows differently from the broken one, never its
    /// results: its span is that of the windows it ran).
    /// </summary>
    public void ResumeAt(long virtualTime, long spanEvents) => (VirtualTime, SpanEvents) = (virtualTime, spanEvents);

    /// <summary>
    /// Records a window's reports, <paramref name="steps"/>[i] from <paramref name="partitions"/>[i].
    /// Each partition's own frontier comes first and the batches after: a batch can reach a
    /// partition after it computed its frontier, so only the minimum of the two is safe; and
    /// where the batch brings an event at or before one whose bound counted its entity's wake
    /// latency, that bound no longer holds, so the partition's output without them is all that does.
    /// </summary>
    public void Apply(IReadOnlyList<int> partitions, IReadOnlyList<PartitionStep> steps)
    {
        var most = 0L;
        for (var i = 0; i < partitions.Count; i++)
        {
            _scheduler.Set(partitions[i], steps[i].Frontier);
            // A partition's first report (its start, or its restore with the counts from before) is no window's work.
            if (_latest[partitions[i]] is { } before) most = Math.Max(most, steps[i].EventsProcessed - before.EventsProcessed);
            _latest[partitions[i]] = steps[i];
        }
        SpanEvents += most;
        foreach (var step in steps)
            for (var b = 0; b < step.SentTo.Length; b++)
            {
                var (to, sent) = (step.SentTo[b], step.SentFrontier[b]);
                if (_latest[to]?.Waking is { } waking && waking.VoidedBy(sent.Next.Earliest)) sent = sent with { Output = sent.Output.Min(waking.OutputWithout) };
                _scheduler.Delivered(to, sent);
            }
    }
}
