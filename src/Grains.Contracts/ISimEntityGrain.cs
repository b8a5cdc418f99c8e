using System.Collections.Immutable;
using Orleans.Concurrency;
using Shootdown.Model.Safety;

namespace Shootdown.Grains;

/// <summary>
/// A simulated entity (a CPU or an mm) holding its model state. Keyed by (entity index,
/// <see cref="PartitionKeys"/> extension): the partition that drives it, and the run. Only its
/// partition grain calls it, once per window it is due in, with the events that waited for it.
/// </summary>
[Alias("shootdown.ISimEntityGrain")]
public interface ISimEntityGrain : IGrainWithIntegerCompoundKey
{
    /// <summary>Builds the model object from the run its silo's partition registered, and lets it schedule its first events.</summary>
    [Alias("Start")]
    Task<EntityWindow> Start();

    /// <summary>Takes the events that waited for this entity, runs every event before the window's end, and hands back what it sent.</summary>
    [Alias("RunWindow")]
    Task<EntityWindow> RunWindow(EntityInput input);

    /// <summary>The run is over: drop the model state. A CPU needs no such call: its last one ends it.</summary>
    [Alias("End")]
    Task End();

    /// <summary>The entity's whole state (its runner, model object and pending events), as a checkpoint holds it.</summary>
    [Alias("Snapshot")]
    Task<Immutable<byte[]>> Snapshot();

    /// <summary>Takes the state a snapshot holds instead of starting; reports the frontier, as <see cref="Start"/> does.</summary>
    [Alias("Restore")]
    Task<EntityWindow> Restore(Immutable<ReadOnlyMemory<byte>> state);
}

[Alias("shootdown.ICpuGrain")]
public interface ICpuGrain : ISimEntityGrain
{
    /// <summary>The CPU's counters and the operations it initiated, once the run is over; without walkers, its last call.</summary>
    [Alias("Collect")]
    Task<CpuReport> Collect();

    /// <summary>Checks this CPU's lockless walks against every table the run retired, in order; its last call.</summary>
    [Alias("CheckSafety")]
    Task<CpuSafety> CheckSafety(ImmutableArray<TableRetire> orderedRetires);
}

[Alias("shootdown.IMmGrain")]
public interface IMmGrain : ISimEntityGrain;

/// <summary>
/// Says how many cores the silo it lives on has: a farm of independent runs gives each silo as
/// many runs at once as it has cores. Placed like a partition, by the slot in its key
/// (<see cref="PartitionKeys.OnSilo"/>).
/// </summary>
[Alias("shootdown.ISiloCoresGrain")]
public interface ISiloCoresGrain : IGrainWithIntegerCompoundKey
{
    [Alias("ProcessorCount")]
    Task<int> ProcessorCount();
}

/// <summary>
/// Drives one partition of a run's entities, on the silo that hosts them: one call from the
/// coordinator per window, one call per due entity, and one batch per other partition that its
/// entities sent to. Keyed by (partition index, <see cref="PartitionKeys"/> extension).
/// </summary>
[Alias("shootdown.IPartitionGrain")]
public interface IPartitionGrain : IGrainWithIntegerCompoundKey
{
    /// <summary>Registers the run on this silo (answered as ADDR:PORT) and learns its members. Every partition is prepared before any starts, so batches always find their partition ready.</summary>
    [Alias("Prepare")]
    Task<string> Prepare(PartitionPlan plan);

    /// <summary>Starts every member entity and routes what they sent.</summary>
    [Alias("Start")]
    Task<PartitionReport> Start();

    /// <summary>Runs the members due in window <paramref name="window"/> (the run's count, from 1), whose safe times are <paramref name="safe"/>, then sends the other partitions their batches.</summary>
    [Alias("RunWindow")]
    Task<PartitionReport> RunWindow(Shootdown.Model.Simulation.EntityTimes safe, long window);

    /// <summary>
    /// Another partition's batch for this partition's entities, sent in <paramref name="window"/>;
    /// every event is at or after that window's end. It may come before this partition begins
    /// that window (the protocol holds it until this partition has chosen its due entities).
    /// </summary>
    [Alias("Deliver"), Orleans.Concurrency.AlwaysInterleave]
    Task Deliver(PartitionBatch batch, long window);

    /// <summary>The member CPUs' reports, in ascending CPU order.</summary>
    [Alias("Collect")]
    Task<ImmutableArray<CpuReport>> Collect();

    /// <summary>Each member CPU checks its own walks against every retired table; their verdicts, in ascending CPU order.</summary>
    [Alias("CheckSafety")]
    Task<ImmutableArray<CpuSafety>> CheckSafety(ImmutableArray<TableRetire> orderedRetires);

    /// <summary>Ends the member mms (the CPUs ended with their last call) and forgets the run on this silo; answers every grain call the partition made.</summary>
    [Alias("End")]
    Task<PartitionCalls> End();

    /// <summary>Writes this partition's part of checkpoint <paramref name="number"/>: its members' states and the events waiting for them.</summary>
    [Alias("Checkpoint")]
    Task Checkpoint(int number);

    /// <summary>Instead of <see cref="Start"/>: restores its members and their waiting events from the checkpoint's part for this partition.</summary>
    [Alias("Restore")]
    Task<PartitionReport> Restore(CheckpointRef from);

    /// <summary>
    /// Drops a run that a lost silo broke: ends every member and forgets the run on this silo. A
    /// partition that was never prepared here (it was re-activated after its silo died) just deactivates.
    /// </summary>
    [Alias("Abandon")]
    Task Abandon();
}

/// <summary>Runs one policy of one scenario on partitioned entity grains: the conservative-window coordinator.</summary>
[Alias("shootdown.IRunGrain")]
public interface IRunGrain : IGrainWithStringKey
{
    /// <summary>Prepares and starts every partition; answers where the run's grains are.</summary>
    [Alias("Begin")]
    Task<RunPlacement> Begin(RunSpec spec);

    /// <summary>Runs windows for about <paramref name="wallBudgetMs"/> of wall time; only the pace depends on it, never the result.</summary>
    [Alias("Advance")]
    Task<RunProgress> Advance(int wallBudgetMs);

    [Alias("Collect")]
    Task<RunReport> Collect();

    /// <summary>Drops a run that a lost silo broke: forgets it on this silo, then deactivates. The client ends the partitions.</summary>
    [Alias("Abandon")]
    Task Abandon();
}

/// <summary>
/// Grain key extensions of a run's partitions and entities: the run key, the partition index,
/// and for a run kept on one silo (<see cref="RunSpec.Home"/>) that silo's slot, so that placement
/// can put an entity on its partition's silo from the key alone.
/// </summary>
public static class PartitionKeys
{
    /// <summary>The key extension of a grain that must live on the home-th silo (in address order), such as <see cref="ISiloCoresGrain"/>.</summary>
    public static string OnSilo(string name, int home) => $"{name}#0@{home}";

    public static string Extension(RunSpec spec, int partition) =>
        spec.Home < 0 ? $"{spec.RunKey}#{partition}" : $"{spec.RunKey}#{partition}@{spec.Home}";

    public static int PartitionOf(string extension)
    {
        var tail = extension.AsSpan(extension.LastIndexOf('#') + 1);
        var at = tail.IndexOf('@');
        return int.Parse(at < 0 ? tail : tail[..at], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Which of the silos, in address order (mod their count), holds this partition: the run's home, else the partition's own index.</summary>
    public static int SlotOf(string extension)
    {
        var at = extension.LastIndexOf('@');
        return at > extension.LastIndexOf('#')
            ? int.Parse(extension.AsSpan(at + 1), System.Globalization.CultureInfo.InvariantCulture)
            : PartitionOf(extension);
    }

    public static string RunKeyOf(string extension) => extension[..extension.LastIndexOf('#')];
}
