using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Shootdown.Model.Simulation;
using Shootdown.Protocol;

namespace Shootdown.Engine;

/// <summary>
/// How a partition reaches its entities and the other partitions: grain calls (the Orleans
/// transport), or plain calls on this process's threads (<see cref="ParallelEngine"/>). The
/// protocol never asks where an entity or a partition is.
/// </summary>
public interface IPartitionTransport
{
    /// <summary>Starts these member entities; their steps, in the same order.</summary>
    ValueTask<EntityStep[]> Start(IReadOnlyList<int> entities);

    /// <summary>Hands each due entity the events that waited for it and runs it to its window end; their steps, in the same order.</summary>
    ValueTask<EntityStep[]> Run(List<DueEntity> due);

    /// <summary>
    /// Sends other partitions their batches. Each must reach its partition's
    /// <see cref="PartitionProtocol.Deliver"/> before that partition next runs a window, takes a
    /// checkpoint or reports its frontier.
    /// </summary>
    ValueTask Send(List<PartitionBatchOut> batches);
}

/// <summary>
/// One partition's side of the window protocol, whatever carries it: per window it runs the due
/// entities, records every entity's frontier before it routes what they sent (a send can lower a
/// bound just set), delivers its own partition's events, sends the other partitions one batch
/// each, and only then reports. The grains' partition and the in-process engine's both run this.
/// </summary>
public sealed class PartitionProtocol(PartitionWindows windows, IPartitionTransport transport)
{
    public PartitionWindows Windows { get; } = windows;

    /// <summary>Starts every member entity and routes what they sent.</summary>
    public async ValueTask<PartitionStep> Start()
    {
        var members = Windows.Members;
        return await Finish(members, await transport.Start(members));
    }

    /// <summary>Runs the members due in the window whose safe times are <paramref name="safe"/>.</summary>
    public async ValueTask<PartitionStep> RunWindow(EntityTimes safe)
    {
        var due = Windows.TakeDue(safe);
        var steps = await transport.Run(due);
        var entities = new int[due.Count];
        for (var i = 0; i < due.Count; i++) entities[i] = due[i].Entity;
        return await Finish(entities, steps);
    }

    /// <summary>
    /// The members were restored from a checkpoint (<paramref name="steps"/>, in member order):
    /// what they report first, then the events that waited in the partition, as a batch would
    /// arrive, which may lower the partition's frontier.
    /// </summary>
    public async ValueTask<PartitionStep> Restored(EntityStep[] steps, ReadOnlyMemory<SimEvent> waiting, MaskAttachment[] masks)
    {
        var step = await Finish(Windows.Members, steps);
        Windows.Accept(waiting.Span, masks);
        return step with { Frontier = Windows.Frontier };
    }

    /// <summary>Another partition's batch for this partition's entities.</summary>
    public void Deliver(ReadOnlySpan<SimEvent> events, ReadOnlySpan<MaskAttachment> masks) => Windows.Accept(events, masks);

    private async ValueTask<PartitionStep> Finish(IReadOnlyList<int> entities, EntityStep[] steps)
    {
        for (var i = 0; i < entities.Count; i++)
            Windows.Ran(entities[i], steps[i].Frontier, steps[i].EventsProcessed, steps[i].LastEventTime);
        foreach (var s in steps) Windows.Route(s.Sent.Span, s.SentMasks);
        var batches = Windows.TakeOutgoing();
        if (batches.Count > 0) await transport.Send(batches);
        var sentTo = new int[batches.Count];
        var sentFrontier = new Frontier[batches.Count];
        for (var b = 0; b < batches.Count; b++) (sentTo[b], sentFrontier[b]) = (batches[b].Partition, batches[b].Frontier);
        return new PartitionStep(Windows.Frontier, ImmutableCollectionsMarshal.AsImmutableArray(sentTo),
            ImmutableCollectionsMarshal.AsImmutableArray(sentFrontier), Windows.EventsProcessed, Windows.LastEventTime);
    }
}
