using System.Runtime.InteropServices;
using Shootdown.Model.Simulation;
using Shootdown.Model.State;

namespace Shootdown.Engine.Checkpoints;

/// <summary>
/// One partition's part of a global checkpoint, taken at a window barrier: the events waiting in
/// its inboxes (with their masks) and each member entity's state (<see cref="EntityRunner.Snapshot"/>).
/// Nothing else is in flight at a barrier: every batch has been delivered, and the coordinator's
/// bounds are rebuilt from the restored partitions' frontiers. Written in the state contract:
/// its version, the waiting events and masks, the members, each member's state's length, then
/// the states one after another, so that the states go into the sealed part as they came back
/// from the members (<see cref="Segments"/>), never copied.
/// </summary>
/// <param name="Waiting">The waiting events, in runs: as the partition's inboxes hold them when written, as one run when read.</param>
public sealed record PartitionCheckpoint(ReadOnlyMemory<SimEvent>[] Waiting, MaskAttachment[] WaitingMasks, int[] Entities, ReadOnlyMemory<byte>[] States)
{
    /// <summary>The part's payload: a head written here (sized exactly, so it is one array), then the states as they are.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Segments()
    {
        var size = 4L * sizeof(int) + (long)Waiting.Sum(run => run.Length) * SimEventState.EventSize + 2L * Entities.Length * sizeof(int);
        foreach (var m in WaitingMasks) size += m.Size;
        var head = new StateWriter(checked((int)size));
        head.Int(StateContract.Version);
        head.Events(Waiting);
        head.Items<MaskAttachment>(WaitingMasks);
        head.Ints(Entities);
        foreach (var s in States) head.Int(s.Length);
        return [head.WrittenMemory, .. States];
    }

    /// <summary>The part in <paramref name="payload"/>; the states are views of it, not copies.</summary>
    public static PartitionCheckpoint Read(ReadOnlyMemory<byte> payload)
    {
        var r = StateContract.Open(payload, "checkpoint part");
        var waiting = r.Events();
        var masks = ImmutableCollectionsMarshal.AsArray(r.Items<MaskAttachment>())!;
        var entities = r.Ints();
        var lengths = new int[entities.Length];
        for (var i = 0; i < lengths.Length; i++) lengths[i] = r.Int();
        var states = new ReadOnlyMemory<byte>[entities.Length];
        for (var i = 0; i < states.Length; i++) states[i] = r.Raw(lengths[i]);
        r.End();
        return new PartitionCheckpoint([waiting], masks, entities, states);
    }
}
