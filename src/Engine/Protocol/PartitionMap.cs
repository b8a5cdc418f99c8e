using System.Collections.Immutable;

namespace Shootdown.Engine;

/// <summary>
/// Which partition drives each entity (SST's ranks, ROSS's processing elements). CPUs go in
/// blocks of up to 64 neighbours (SMT siblings and cores of a package stay together), and the
/// blocks are dealt out in turn, so that a run's busy CPUs, which workloads usually pin side by
/// side (a storm's 256 initiators are CPUs 0-255), are spread over every partition: a partition
/// routes what its entities send on one thread. The mms are dealt out too. The map changes only
/// how the work is spread, never a result.
/// </summary>
public sealed class PartitionMap
{
    private readonly int[] _partitionOf;
    private readonly ImmutableArray<int>[] _members;

    public PartitionMap(int cpus, int mms, int partitions)
    {
        if (cpus < 1) throw new ArgumentOutOfRangeException(nameof(cpus), cpus, "a machine has at least one CPU");
        if (partitions < 1 || partitions > cpus)
            throw new ArgumentOutOfRangeException(nameof(partitions), partitions, $"between 1 and the machine's {cpus} CPUs");
        Count = partitions;
        _partitionOf = new int[cpus + mms];
        var block = Math.Clamp(cpus / partitions, 1, BlockCpus);
        for (var cpu = 0; cpu < cpus; cpu++) _partitionOf[cpu] = cpu / block % partitions;
        for (var mm = 0; mm < mms; mm++) _partitionOf[cpus + mm] = mm % partitions;
        var members = Enumerable.Range(0, partitions).Select(_ => ImmutableArray.CreateBuilder<int>()).ToArray();
        for (var entity = 0; entity < _partitionOf.Length; entity++) members[_partitionOf[entity]].Add(entity);
        _members = members.Select(b => b.ToImmutable()).ToArray();
    }

    /// <summary>The most CPUs in one block; fewer when there are fewer than that per partition, so that every partition drives some.</summary>
    private const int BlockCpus = 64;

    public int Count { get; }
    public int EntityCount => _partitionOf.Length;

    public int PartitionOf(int entity) => _partitionOf[entity];

    /// <summary>The entities partition <paramref name="partition"/> drives, in ascending id order.</summary>
    public ImmutableArray<int> MembersOf(int partition) => _members[partition];
}
