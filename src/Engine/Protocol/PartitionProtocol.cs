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
    /// Sends other partitions their batches, sent in window <paramref name="window"/>. Each must
    /// reach its partition's <see cref="PartitionProtocol.Deliver"/>, with that window, before that
    /// partition next runs a window after it or takes a checkpoint; it may arrive sooner.
    /// </summary>
    ValueTask Send(List<PartitionBatchOut> batches, long window);
}

/// <summary>
/// One partition's side of the window protocol, whatever carries it: per window it runs the due
/// entities, records every entity's frontier before it routes what they sent (a send can lower a
/// bound just set), delivers its own partition's events, sends the other partitions one batch
/// each, and only then reports. The grains' partition and the in-process engine's both run this.
/// <para>
/// A batch can reach a partition before, while or after that partition runs the window the batch
/// was sent in (the partitions of a window run side by side). Taken at once, its events could make
/// one of this partition's entities due in that window, or not, could be bounded with their
/// entity's wake latency or not (which depends on whether the entity has reported since it ran),
/// and could be in the partition's report or not, depending on which thread came first: never a
/// different result (a batch's events are past the window's end), but different windows, calls
/// and span from run to run. So a batch waits until this partition has reported the window it was
/// sent in; the coordinator counts it meanwhile, from the frontier its sender reported with it.
/// </para>
/// </summary>
public sealed class PartitionProtocol(PartitionWindows windows, IPartitionTransport transport)
{
    public PartitionWindows Windows { get; } = windows;

    /// <summary>The last window this partition began (0 before the first).</summary>
    private long _window;

    /// <summary>The last window this partition reported (−1 before its start).</summary>
    private long _reported = -1;

    /// <summary>Batches from windows this partition had not reported when they came, in arrival order.</summary>
    private readonly List<(long Window, ReadOnlyMemory<SimEvent>[] Events, ReadOnlyMemory<MaskAttachment> Masks)> _early = new();

    /// <summary>Starts every member entity and routes what they sent.</summary>
    public async ValueTask<PartitionStep> Start()
    {
        var members = Windows.Members;
        return await Finish(members, await transport.Start(members));
    }

    /// <summary>Runs the members due in window <paramref name="window"/> (numbered from 1), whose safe times are <paramref name="safe"/>.</summary>
    public async ValueTask<PartitionStep> RunWindow(EntityTimes safe, long window)
    {
        AcceptEarly(before: window);
        _window = window;
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
        Windows.Accept([waiting], masks);
        return step with { Frontier = Windows.Frontier, Waking = Windows.Waking };
    }

    /// <summary>
    /// Another partition's batch for this partition's entities, sent in <paramref name="window"/>,
    /// in runs (<see cref="PartitionBatchOut.Events"/>); the memory is the protocol's from here on.
    /// </summary>
    public void Deliver(ReadOnlyMemory<SimEvent>[] events, ReadOnlyMemory<MaskAttachment> masks, long window)
    {
        if (window <= _reported) Windows.Accept(events, masks.Span);
        else _early.Add((window, events, masks));
    }

    /// <summary>
    /// Every event waiting in this partition, as <see cref="PartitionWindows.Waiting"/> gives them,
    /// batches that came early included: at a barrier, all of a checkpoint's part.
    /// </summary>
    public (ReadOnlyMemory<SimEvent>[] Events, MaskAttachment[] Masks) Waiting()
    {
        AcceptEarly(before: long.MaxValue);
        return Windows.Waiting();
    }

    /// <summary>Takes the early batches sent before window <paramref name="before"/>.</summary>
    private void AcceptEarly(long before)
    {
        if (_early.Count == 0) return;
        foreach (var (window, events, masks) in _early)
            if (window < before) Windows.Accept(events, masks.Span);
        _early.RemoveAll(b => b.Window < before);
    }

    private async ValueTask<PartitionStep> Finish(IReadOnlyList<int> entities, EntityStep[] steps)
    {
        for (var i = 0; i < entities.Count; i++)
            Windows.Ran(entities[i], steps[i].Frontier, steps[i].EventsProcessed, steps[i].LastEventTime, steps[i].WakeLatency);
        foreach (var s in steps) Windows.Route(s.Sent.Span, s.SentMasks);
        var batches = Windows.TakeOutgoing();
        if (batches.Count > 0) await transport.Send(batches, _window);
        var sentTo = new int[batches.Count];
        var sentFrontier = new Frontier[batches.Count];
        for (var b = 0; b < batches.Count; b++) (sentTo[b], sentFrontier[b]) = (batches[b].Partition, batches[b].Frontier);
        var step = new PartitionStep(Windows.Frontier, ImmutableCollectionsMarshal.AsImmutableArray(sentTo),
            ImmutableCollectionsMarshal.AsImmutableArray(sentFrontier), Windows.EventsProcessed, Windows.LastEventTime, Windows.Waking);
        _reported = _window;
        return step;
    }
}
