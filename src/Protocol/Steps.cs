using System.Collections.Immutable;
using Shootdown.Model.Simulation;

namespace Shootdown.Protocol;

/// <summary>
/// An entity after it ran: its frontier over the events it still holds, what it sent others (in
/// the order sent, with the masks some carry; a view valid until its outbox is cleared), and its counters.
/// </summary>
public readonly record struct EntityStep(Frontier Frontier, ReadOnlyMemory<SimEvent> Sent, MaskAttachment[] SentMasks, long EventsProcessed, long LastEventTime);

/// <summary>
/// A partition after a window, as its coordinator needs it: the frontier of its entities and
/// their waiting events; for each partition it sent a batch to, the frontier that batch adds
/// there (the batch may land after the receiver reported); and its running totals.
/// </summary>
public sealed record PartitionStep(Frontier Frontier, ImmutableArray<int> SentTo, ImmutableArray<Frontier> SentFrontier, long EventsProcessed, long LastEventTime);
