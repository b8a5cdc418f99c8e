using Shootdown.Model.Simulation;
using Shootdown.Model.Kernel;
using Shootdown.Protocol;

namespace Shootdown.Engine;

/// <summary>
/// The conservative-synchronisation contract of a run, built from what the model says about
/// kernel behaviour. The model knows nothing of windows: it only answers when an entity can
/// first write another's state; this class turns that into the engine's terms.
/// <list type="bullet">
/// <item><see cref="Lookahead"/>: every event one entity sends another is at least this far ahead
/// of the sender's clock (the fastest interaction in the cost model).</item>
/// <item><see cref="EarliestOutput"/>: no event that handling an event can cause a CPU, or an
/// mm, to receive is earlier than this.</item>
/// <item><see cref="Horizon"/> and <see cref="CatchUpLag"/>: when an entity is worth a call in a
/// window (see <see cref="WindowScheduler"/>).</item>
/// </list>
/// </summary>
public sealed class SyncContract(SimulationSetup setup)
{
    public SimulationSetup Setup { get; } = setup;

    public long Lookahead { get; } = setup.Costs.FastestInteractionNs;

    /// <summary>
    /// A csd's output bound is its IPI's arrival plus the interrupt entry plus the lookahead, so
    /// with this horizon a target whose IPI arrives before the safe time lands the csd, takes the
    /// interrupt and acknowledges in the same window, in one call.
    /// </summary>
    public long Horizon => Setup.Costs.InterruptEntryNs + Lookahead;

    /// <summary>
    /// How far behind its safe time an entity's earliest event may lag before the entity is run
    /// for it alone. Long enough that a CPU holding a broadcast's queued csds is not called for
    /// each of them (a sync to 8191 CPUs queues over 410 µs), short enough that a thread schedule
    /// or an mm's cpumask updates are worked through in a few calls per millisecond of virtual time.
    /// </summary>
    public long CatchUpLag => 1_000_000;

    public EntityTimes EarliestOutput(in SimEvent e) => Setup.EarliestRemoteWrites(e);

    /// <summary>The frontier one event adds to an entity that holds it.</summary>
    public Frontier FrontierOf(in SimEvent e) => new(EarliestOutput(e), NextOf(e));

    /// <summary>
    /// The frontier an event adds to an entity it reaches first, while the entity takes
    /// <paramref name="wakeLatency"/> to act (<see cref="IWakeLatency"/>), or null where that
    /// changes nothing. It holds only while nothing at or before the event reaches the entity:
    /// <see cref="PartitionWindows"/> and <see cref="WindowCoordinator"/> drop it when something does.
    /// </summary>
    public Frontier? WakingFrontierOf(in SimEvent e, long wakeLatency) =>
        Setup.EarliestRemoteWritesWaking(e, wakeLatency) is { } output ? new(output, NextOf(e)) : null;

    /// <summary>The event as its entity's next pending one: its time, for its kind of entity.</summary>
    private EntityTimes NextOf(in SimEvent e) => EntityTimes.Only(Setup.IsCpu(e.Target), e.Time);

    /// <summary>
    /// The safe times for the earliest outputs over every entity. A CPU's bound already counts
    /// what it makes an mm answer; but a CPU that receives something at the CPU safe time may
    /// write an mm one interaction later, so the mm safe time is never past that.
    /// </summary>
    public EntityTimes SafeTimes(EntityTimes earliestOutputs) => earliestOutputs.Cpu == long.MaxValue
        ? earliestOutputs
        : earliestOutputs with { Mm = Math.Min(earliestOutputs.Mm, earliestOutputs.Cpu + Lookahead) };

    /// <summary>
    /// Numbers an event its source sends, and checks it: an event to itself may not be in its
    /// past, and one to another entity must be at least the lookahead ahead. Both engines send
    /// through this, so they number and check alike.
    /// </summary>
    public SimEvent Stamp(int source, ref long seq, long now, int target, long at, EventKind kind, long op, int arg, long x, long y, int flags)
    {
        var e = new SimEvent(at, kind, source, ++seq, target, op, arg, x, y, flags);
        if (target == source)
        {
            if (at < now) throw new InvalidOperationException($"entity {source} scheduled {kind} in its past");
        }
        else if (at < now + Lookahead)
        {
            throw new InvalidOperationException(
                $"entity {source} at {now} ns sent {kind} to {target} for {at} ns, inside the {Lookahead} ns lookahead: a model message is faster than the cost model's fastest interaction");
        }
        return e;
    }
}
