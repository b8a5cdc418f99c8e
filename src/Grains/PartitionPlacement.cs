using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace Shootdown.Grains;

/// <summary>
/// Puts a run's partition grain and every entity it drives on one silo: partition p of a run
/// goes to the p-th (mod count) of the compatible silos in address order, or every partition of
/// a run with a home to the home-th, read from the grain's key alone (<see cref="PartitionKeys"/>). So a window's calls to entities stay inside a silo,
/// and only batches between partitions and the coordinator's calls cross silos.
/// </summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking, Alias("shootdown.PartitionPlacement")]
public sealed class PartitionPlacement : PlacementStrategy;

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class PartitionPlacementAttribute() : PlacementAttribute(new PartitionPlacement());

public sealed class PartitionPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target).Order().ToArray();
        target.GrainIdentity.GetIntegerKey(out var extension);
        var slot = PartitionKeys.SlotOf(extension ?? throw new InvalidOperationException($"{target.GrainIdentity} has no partition in its key"));
        return Task.FromResult(silos[slot % silos.Length]);
    }
}
