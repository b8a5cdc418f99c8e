using Shootdown.Model.Simulation;

namespace Shootdown.Engine;

/// <summary>
/// The conservative-synchronisation contract of a run, built from what the model says about
/// kernel behaviour. The model knows nothing of windows: it only answers when an entity can
/// first write another's state; this class turns that into the engine's terms.
/// <list type="bullet">
/// <item><see cref="Lookahead"/>: every event one entity sends another is at least this far ahead
/// of the sender's clock (the fastest interaction in the cost model).</item>
/// <item><see cref="EarliestOutput"/>: no event that handling an event can cause another entity
/// to receive is earlier than this.</item>
/// <item><see cref="Horizon"/>: how far past its earliest output an entity may still be run to a
/// window's safe time.</item>
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

    public long EarliestOutput(in SimEvent e) => Setup.EarliestRemoteWrite(e);

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
