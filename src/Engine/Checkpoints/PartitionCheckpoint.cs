using System.Runtime.CompilerServices;
using Shootdown.Model.Simulation;

namespace Shootdown.Engine.Checkpoints;

/// <summary>
/// One partition's part of a global checkpoint, taken at a window barrier: the events waiting in
/// its inboxes (with their masks) and each member entity's state (<see cref="ObjectGraphCodec"/>
/// over its runner). Nothing else is in flight at a barrier: every batch has been delivered, and
/// the coordinator's bounds are rebuilt from the restored partitions' frontiers.
/// </summary>
public sealed record PartitionCheckpoint(SimEvent[] Waiting, MaskAttachment[] WaitingMasks, int[] Entities, byte[][] States)
{
    private static readonly SharedObjects Nothing = new();

    /// <summary>The part's bytes, in the codec's own buffer (sized ahead, so never grown): sealing copies them once, into the stored part.</summary>
    public ReadOnlyMemory<byte> Encode() => ObjectGraphCodec.WriteUncopied(this, Nothing,
        capacity: checked(States.Sum(s => s.Length + 16) + Waiting.Length * Unsafe.SizeOf<SimEvent>() + (1 << 16)));

    public static PartitionCheckpoint Decode(ReadOnlyMemory<byte> bytes) => ObjectGraphCodec.Read<PartitionCheckpoint>(bytes, Nothing);
}
