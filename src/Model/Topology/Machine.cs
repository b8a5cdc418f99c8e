namespace Shootdown.Model.Topology;

/// <summary>How far apart two CPUs are, for IPI delivery and cache-line transfer costs.</summary>
public enum CpuRelation
{
    Self,
    SmtSibling,
    SamePackage,
    RemotePackage,
}

/// <summary>
/// A simulated SMP machine: packages, cores, SMT threads and NUMA nodes, a SLIT-style
/// distance matrix and x2APIC IDs. CPU numbers follow Linux's enumeration on x86: the first
/// thread of every core across all packages, then the second threads, and so on, so that
/// SMT siblings are <c>nr_cores</c> apart (as in <c>lscpu -p</c> on an EPYC 7451, where CPU 48
/// is the sibling of CPU 0).
/// </summary>
public sealed class Machine
{
    /// <summary>The largest machine the simulator accepts (a power of two above MAXSMP's 8192).</summary>
    public const int MaxCpus = 65_536;

    /// <summary>x2APIC logical cluster: 16 consecutive APIC IDs (<c>apic_cluster(apicid) = apicid &gt;&gt; 4</c>).</summary>
    public const int X2ApicClusterShift = 4;

    private readonly int[] _package;
    private readonly int[] _core;
    private readonly int[] _node;
    private readonly int[] _apicId;
    private readonly int[] _distance;
    private readonly int[] _clusterIndex;

    public Machine(string name, int[] package, int[] core, int[] node, int[] apicId, int nodeCount, int[] distance)
    {
        var n = package.Length;
        if (n is < 1 or > MaxCpus) throw new ArgumentException($"a machine has 1..{MaxCpus} CPUs, not {n}");
        if (core.Length != n || node.Length != n || apicId.Length != n)
            throw new ArgumentException("per-CPU arrays must have the same length");
        if (distance.Length != nodeCount * nodeCount)
            throw new ArgumentException($"the distance matrix must be {nodeCount}x{nodeCount}");
        Name = name;
        _package = package;
        _core = core;
        _node = node;
        _apicId = apicId;
        _distance = distance;
        NodeCount = nodeCount;
        PackageCount = package.Max() + 1;
        CoreCount = core.Max() + 1;
        var clusters = apicId.Select(a => a >> X2ApicClusterShift).Distinct().Order().Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);
        ClusterCount = clusters.Count;
        _clusterIndex = apicId.Select(a => clusters[a >> X2ApicClusterShift]).ToArray();
    }

    public string Name { get; }
    public int CpuCount => _package.Length;
    public int PackageCount { get; }
    public int CoreCount { get; }
    public int NodeCount { get; }
    public int ClusterCount { get; }

    public int PackageOf(int cpu) => _package[cpu];
    public int CoreOf(int cpu) => _core[cpu];
    public int NodeOf(int cpu) => _node[cpu];
    public int ApicIdOf(int cpu) => _apicId[cpu];
    public int X2ApicClusterOf(int cpu) => _apicId[cpu] >> X2ApicClusterShift;

    /// <summary>The CPU's x2APIC cluster as a dense index in [0, <see cref="ClusterCount"/>).</summary>
    public int X2ApicClusterIndexOf(int cpu) => _clusterIndex[cpu];

    /// <summary>SLIT distance between two NUMA nodes (10 = local).</summary>
    public int NodeDistance(int a, int b) => _distance[a * NodeCount + b];

    public int CpuDistance(int a, int b) => NodeDistance(_node[a], _node[b]);

    public CpuRelation Relation(int a, int b)
    {
        if (a == b) return CpuRelation.Self;
        if (_core[a] == _core[b]) return CpuRelation.SmtSibling;
        return _package[a] == _package[b] ? CpuRelation.SamePackage : CpuRelation.RemotePackage;
    }

    /// <summary>
    /// NUMA hops between the nodes of two CPUs, read off the SLIT: 0 for the same node, else
    /// round((distance − 10) / 11), at least 1. SLIT 21 is one hop and 31–32 two, as firmware
    /// commonly reports them; larger UV-class distances map to more hops.
    /// </summary>
    public int NumaHops(int a, int b)
    {
        var d = CpuDistance(a, b);
        if (_node[a] == _node[b]) return 0;
        return Math.Max(1, (int)Math.Round((d - 10) / 11.0, MidpointRounding.AwayFromZero));
    }
}
