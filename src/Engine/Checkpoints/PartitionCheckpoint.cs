using System.Runtime.InteropServices;
using Shootdown.Model.Simulation;
using Shootdown.Model.State;

namespace Shootdown.Engine.Checkpoints;

/// <summary>
/// One partition's part of a global checkpoint, taken at a window barrier: the events waiting in
/// its inboxes (with their masks) and each member entity's state (<see cref="EntityRunner.Snapshot"/>).
/// Nothing else is in flight at a barrier: every batch has been delivered, and the coordinator's
/// bounds are rebuilt from the restored partitions' frontiers. Written in the state contract:
/// its version, the waiting events and masks, the members, then each member's state as bytes.
/// </summary>
/// <param name="Waiting">The waiting events, in runs: as the partition's inboxes hold them when written, as one run when read.</param>
public sealed record PartitionCheckpoint(ReadOnlyMemory<SimEvent>[] Waiting, MaskAttachment[] WaitingMasks, int[] Entities, ReadOnlyMemory<byte>[] States)
{
    /// <summary>The written size, exactly, so the sealed part is built in one array of its final size.</summary>
    public int Size
    {
        get
        {
            var size = 5L * sizeof(int) + (long)Waiting.Sum(run => run.Length) * StateWriter.EventSize + (long)Entities.Length * sizeof(int);
            foreach (var m in WaitingMasks) size += m.Size;
            foreach (var s in States) size += sizeof(int) + s.Length;
            return checked((int)size);
        }
    }

    public void Write(StateWriter w)
    {
        w.Int(StateContract.Version);
        w.Events(Waiting);
        w.Items<MaskAttachment>(WaitingMasks);
        w.Ints(Entities);
        w.Int(States.Length);
        foreach (var s in States) w.Bytes(s.Span);
    }

    /// <summary>The part in <paramref name="payload"/>; the states are views of it, not copies.</summary>
    public static PartitionCheckpoint Read(ReadOnlyMemory<byte> payload)
    {
        var r = StateContract.Open(payload, "checkpoint part");
        var waiting = r.Events();
        var masks = ImmutableCollectionsMarshal.AsArray(r.Items<MaskAttachment>())!;
        var entities = r.Ints();
        var states = new ReadOnlyMemory<byte>[r.Count("the entity states")];
        if (states.Length != entities.Length) throw r.Invalid($"{states.Length} states for {entities.Length} entities");
        for (var i = 0; i < states.Length; i++) states[i] = r.Bytes();
        r.End();
        return new PartitionCheckpoint([waiting], masks, entities, states);
    }
}
