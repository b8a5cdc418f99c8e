using System.Collections.Immutable;
using Shootdown.Model.Simulation;
using Shootdown.Model.State;

namespace Shootdown.Protocol;

/// <summary>
/// An entity after it ran: its frontier over the events it still holds, what it sent others (in
/// the order sent, with the masks some carry; a view valid until its outbox is cleared), its
/// counters, and how long it would take to act on an interrupt that reached it first (<see cref="IWakeLatency"/>; 0 for at once).
/// </summary>
public readonly record struct EntityStep(Frontier Frontier, ReadOnlyMemory<SimEvent> Sent, MaskAttachment[] SentMasks, long EventsProcessed, long LastEventTime,
    long WakeLatency);

/// <summary>
/// A partition after a window, as its coordinator needs it: the frontier of its entities and
/// their waiting events; for each partition it sent a batch to, the frontier that batch adds
/// there (the batch may land after the receiver reported); its running totals; and what its
/// frontier owes to wake latencies.
/// </summary>
public sealed record PartitionStep(Frontier Frontier, ImmutableArray<int> SentTo, ImmutableArray<Frontier> SentFrontier, long EventsProcessed, long LastEventTime,
    WakingBounds Waking);

/// <summary>
/// What a partition's frontier owes to wake latencies (<see cref="IWakeLatency"/>): the latest
/// time of a waiting event whose bound counts one, and the partition's output without them, which
/// is all that holds once another event at or before that time reaches the partition.
/// </summary>
public readonly record struct WakingBounds(long Until, EntityTimes OutputWithout) : IStateRecord<WakingBounds>
{
    public static WakingBounds None { get; } = new(long.MinValue, EntityTimes.Never);

    /// <summary>Whether an event at <paramref name="time"/> reaching the partition voids them.</summary>
    public bool VoidedBy(long time) => time <= Until;

    public void Write(StateWriter writer)
    {
        writer.Long(Until);
        OutputWithout.Write(writer);
    }

    public static WakingBounds Read(StateReader reader) => new(reader.Long(), EntityTimes.Read(reader));
}
