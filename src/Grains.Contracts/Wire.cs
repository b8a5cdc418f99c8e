using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Shootdown.Model.Results;
using Shootdown.Model.Safety;
using Shootdown.Model.Simulation;
using Shootdown.Model.State;
using Shootdown.Protocol;

namespace Shootdown.Grains;

/// <summary>
/// What every grain of a run needs to rebuild the same model: the <c>SimulationDefinition</c>
/// and the <c>KernelPolicy</c>, in their JSON forms (the model has no Orleans serializers);
/// for its spans only, the tracing ratio, the run's id and the scenario's name; how many
/// partitions to drive it with (0: one per core of each silo it spans); and its home: the slot
/// of the one silo (in address order, mod the silo count) that holds all its partitions and
/// entities, or -1 to spread them over every silo. Farmed sweeps give each run a home. A run
/// resumed from a broken one's checkpoint (<c>ResumeFrom</c>) also names the checkpoint before it
/// (<c>Fallback</c>, kept as well), which the client resumes from if ResumeFrom's parts are
/// refused; the new run drops both once it has two of its own.
/// </summary>
[GenerateSerializer, Immutable, Alias("shootdown.RunSpec")]
public sealed record RunSpec(
    [property: Id(0)] string RunKey,
    [property: Id(1)] string DefinitionJson,
    [property: Id(2)] string PolicyJson,
    [property: Id(3)] string Policy,
    [property: Id(4)] double TraceSampleRatio,
    [property: Id(5)] string RunId,
    [property: Id(6)] string Scenario,
    [property: Id(7)] int Partitions = 0,
    [property: Id(8)] int Home = -1,
    [property: Id(9)] CheckpointPolicy? Checkpoints = null,
    [property: Id(10)] CheckpointRef? ResumeFrom = null,
    [property: Id(11)] CheckpointRef? Fallback = null);

/// <summary>
/// When the coordinator takes a global checkpoint at a window barrier: every
/// <paramref name="Windows"/> windows, or once <paramref name="WallMs"/> of wall time has passed
/// since the last one, whichever comes first (0: not by that measure).
/// </summary>
[GenerateSerializer, Immutable, Alias("shootdown.CheckpointPolicy")]
public sealed record CheckpointPolicy(
    [property: Id(0)] int Windows,
    [property: Id(1)] int WallMs);

/// <summary>
/// A complete checkpoint: the run whose grains took it, its number, how many partitions hold its
/// parts (a run resumed from it must use as many), and the window and virtual time it was taken at.
/// </summary>
[GenerateSerializer, Immutable, Alias("shootdown.CheckpointRef")]
public sealed record CheckpointRef(
    [property: Id(0)] string RunKey,
    [property: Id(1)] int Number,
    [property: Id(2)] int Partitions,
    [property: Id(3)] long Windows,
    [property: Id(4)] long VirtualTimeNs,
    [property: Id(5)] long SpanEvents = 0);

/// <summary>Where a run's grains are: the coordinator's silo, and the silos holding its partitions (ADDR:PORT, in order).</summary>
[GenerateSerializer, Immutable, Alias("shootdown.RunPlacement")]
public sealed record RunPlacement(
    [property: Id(0)] string Coordinator,
    [property: Id(1)] ImmutableArray<string> PartitionSilos);

/// <summary>What a partition grain needs to know of its run: the spec, and how many partitions share it.</summary>
[GenerateSerializer, Immutable, Alias("shootdown.PartitionPlan")]
public sealed record PartitionPlan(
    [property: Id(0)] RunSpec Spec,
    [property: Id(1)] int Partitions);

// The window path's messages are the state contract's records (StateRecordCodec): most of every
// window's bytes are their events, written as the contract writes them in checkpoints.

/// <summary>
/// A window's call to an entity: its end, and the events (with their masks) that waited for the
/// entity, in runs: views of its partition's chunks, which a local call passes as they are (the
/// partition takes them back once the call has answered); written as one list, read back as one run.
/// </summary>
public sealed record EntityInput(long WindowEnd, ImmutableArray<ReadOnlyMemory<SimEvent>> Events, ImmutableArray<MaskAttachment> Masks)
    : IStateRecord<EntityInput>
{
    public void Write(StateWriter writer)
    {
        writer.Long(WindowEnd);
        writer.Events(Events.AsSpan());
        writer.Items(Masks.AsSpan());
    }

    public static EntityInput Read(StateReader reader) => new(reader.Long(), [reader.Events()], reader.Items<MaskAttachment>());
}

/// <summary>
/// An entity after a window: its frontier over the events it still holds, what it sent other
/// entities (in the order sent, with the masks some carry), and its counters.
/// </summary>
public sealed record EntityWindow(Frontier Frontier, ImmutableArray<SimEvent> Sent, ImmutableArray<MaskAttachment> SentMasks,
    long EventsProcessed, long LastEventTime, long WakeLatency) : IStateRecord<EntityWindow>
{
    /// <summary>The step's sends copied out of their outbox; its masks' array is fresh and wrapped.</summary>
    public static EntityWindow Of(EntityStep step) => new(step.Frontier, ImmutableCollectionsMarshal.AsImmutableArray(step.Sent.ToArray()),
        ImmutableCollectionsMarshal.AsImmutableArray(step.SentMasks), step.EventsProcessed, step.LastEventTime, step.WakeLatency);

    /// <summary>The step it carries, over the same arrays.</summary>
    public EntityStep Step => new(Frontier, ImmutableCollectionsMarshal.AsArray(Sent) ?? [], ImmutableCollectionsMarshal.AsArray(SentMasks) ?? [],
        EventsProcessed, LastEventTime, WakeLatency);

    public void Write(StateWriter writer)
    {
        Frontier.Write(writer);
        writer.Events(Sent.AsSpan());
        writer.Items(SentMasks.AsSpan());
        writer.Long(EventsProcessed);
        writer.Long(LastEventTime);
        writer.Long(WakeLatency);
    }

    public static EntityWindow Read(StateReader reader) =>
        new(Frontier.Read(reader), ImmutableCollectionsMarshal.AsImmutableArray(reader.Events()), reader.Items<MaskAttachment>(),
            reader.Long(), reader.Long(), reader.Long());
}

/// <summary>
/// What one partition's entities sent another partition's in one window, in runs: the sender's
/// chunks as it hands them over, which a local call passes as they are; written as one list, and
/// read back as one run.
/// </summary>
public sealed record PartitionBatch(int From, ImmutableArray<ReadOnlyMemory<SimEvent>> Events, ImmutableArray<MaskAttachment> Masks)
    : IStateRecord<PartitionBatch>
{
    public void Write(StateWriter writer)
    {
        writer.Int(From);
        writer.Events(Events.AsSpan());
        writer.Items(Masks.AsSpan());
    }

    public static PartitionBatch Read(StateReader reader) => new(reader.Int(), [reader.Events()], reader.Items<MaskAttachment>());
}

/// <summary>A partition after a window: what the protocol reports (<see cref="PartitionStep"/>), and its running totals of grain calls.</summary>
public sealed record PartitionReport(PartitionStep Step, long EntityCalls, long BatchCalls) : IStateRecord<PartitionReport>
{
    public void Write(StateWriter writer)
    {
        Step.Frontier.Write(writer);
        writer.Ints(Step.SentTo.AsSpan());
        writer.Items(Step.SentFrontier.AsSpan());
        writer.Long(Step.EventsProcessed);
        writer.Long(Step.LastEventTime);
        Step.Waking.Write(writer);
        writer.Long(EntityCalls);
        writer.Long(BatchCalls);
    }

    public static PartitionReport Read(StateReader reader)
    {
        var frontier = Frontier.Read(reader);
        var sentTo = ImmutableCollectionsMarshal.AsImmutableArray(reader.Ints());
        var sentFrontier = reader.Items<Frontier>();
        if (sentFrontier.Length != sentTo.Length) throw reader.Invalid($"{sentFrontier.Length} frontiers for {sentTo.Length} batches");
        return new(new PartitionStep(frontier, sentTo, sentFrontier, reader.Long(), reader.Long(), WakingBounds.Read(reader)), reader.Long(), reader.Long());
    }
}

/// <summary>Every grain call a partition made over a run: to its entities, and batches to other partitions.</summary>
[GenerateSerializer, Immutable, Alias("shootdown.PartitionCalls")]
public sealed record PartitionCalls(
    [property: Id(0)] long EntityCalls,
    [property: Id(1)] long BatchCalls);

/// <summary>
/// What the grain engine did for a run: its shape and every grain call it made, by who made it
/// (the coordinator, to partitions and once to learn the silos; partitions to their entities;
/// partitions to each other).
/// </summary>
[GenerateSerializer, Immutable, Alias("shootdown.EngineStats")]
public sealed record EngineStats(
    [property: Id(0)] int Silos,
    [property: Id(1)] int Partitions,
    [property: Id(2)] long Windows,
    [property: Id(3)] long CoordinatorCalls,
    [property: Id(4)] long EntityCalls,
    [property: Id(5)] long BatchCalls,
    [property: Id(6)] int CheckpointsSkipped = 0,
    [property: Id(7)] long SpanEvents = 0)
{
    public long GrainCalls => CoordinatorCalls + EntityCalls + BatchCalls;

    /// <summary>Events over the span (<c>WindowCoordinator.SpanEvents</c>): how many partitions' worth of events run side by side, at best.</summary>
    public double? ParallelismBound(long events) => SpanEvents > 0 ? (double)events / SpanEvents : null;
}

[GenerateSerializer, Immutable, Alias("shootdown.RunProgress")]
public sealed record RunProgress(
    [property: Id(0)] long VirtualTimeNs,
    [property: Id(1)] bool Done,
    [property: Id(2)] EngineStats Stats,
    [property: Id(3)] CheckpointRef? Checkpoint = null);

/// <summary>A CPU's counters and operations; with walkers, also the tables its operations retired.</summary>
[GenerateSerializer, Immutable, Alias("shootdown.CpuReport")]
public sealed record CpuReport(
    [property: Id(0)] CpuCounters Counters,
    [property: Id(1)] ImmutableArray<OpRecord> Ops,
    [property: Id(2)] ImmutableArray<TableRetire> Retires);

[GenerateSerializer, Immutable, Alias("shootdown.RunReport")]
public sealed record RunReport(
    [property: Id(0)] string Policy,
    [property: Id(1)] long EndNs,
    [property: Id(2)] long EventsProcessed,
    [property: Id(3)] ImmutableArray<CpuReport> Cpus,
    [property: Id(4)] EngineStats Stats,
    [property: Id(5)] SafetyReport? Safety);

/// <summary>
/// A checkpoint part was refused on restore (changed, cut short, another build's or another
/// cluster's, or not the part asked for): the client restarts the policy from virtual time 0
/// rather than resume from it. Crosses the wire, so it is a declared type.
/// </summary>
[GenerateSerializer, Alias("shootdown.CheckpointRefusedFault")]
public sealed class CheckpointRefusedFault(string message) : Exception(message);

/// <summary>
/// The checkpoint store failed (Redis unreachable, paused, restarted): a declared fault the
/// coordinator can catch and the client can read, where Redis's own exception types cannot cross the wire.
/// </summary>
[GenerateSerializer, Alias("shootdown.CheckpointStoreFault")]
public sealed class CheckpointStoreFault(string message) : Exception(message);
