namespace Shootdown.Model.Topology;

/// <summary>How far apart two CPUs are, for IPI delivery and cache-line transfer costs.</summary>
public enum CpuRelation
{
    Self,
    SmtSibling,
    /// <summary>Different cores sharing an L3 domain.</summary>
    SameL3,
    /// <summary>The same package, another L3 domain (AMD CCXs, Intel sub-NUMA clusters with their own L3).</summary>
    SamePackage,
    RemotePackage,
}

/// <summary>
/// A simulated SMP machine: packages, cores, SMT threads, L3 domains and NUMA nodes, a
/// SLIT-style distance matrix and x2APIC IDs. Simulated CPUs are numbered densely from 0; an
/// imported machine keeps each CPU's Linux number (<see cref="OsIndexOf"/>) for display, since
/// offline or disallowed CPUs leave holes there. Built by <see cref="MachineBuilder"/>.
/// </summary>
public sealed class Machine
{
    /// <summary>The largest machine the simulator accepts (a power of two above MAXSMP's 8192).</summary>
    public const int MaxCpus = 65_536;

    /// <summary>
    /// The most NUMA nodes a machine may have: Linux's MAX_NUMNODES at its largest x86-64
    /// configuration (NODES_SHIFT 10). The node distance matrix is nodes², so this bound keeps it
    /// at 4 MiB; a spec with more nodes is refused before anything is allocated for them.
    /// </summary>
    public const int MaxNodes = 1 << 10;

    /// <summary>Refuses a node count above <see cref="MaxNodes"/>, before its distance matrix is allocated.</summary>
    public static void CheckNodeCount(long nodes)
    {
        if (nodes > MaxNodes)
            throw new TopologySpecException($"{nodes:N0} NUMA nodes; Linux allows at most {MaxNodes} (MAX_NUMNODES with NODES_SHIFT 10)");
    }

    /// <summary>x2APIC logical cluster: 16 consecutive APIC IDs (<c>apic_cluster(apicid) = apicid &gt;&gt; 4</c>).</summary>
    public const int X2ApicClusterShift = 4;

    private readonly int[] _package;
    private readonly int[] _core;
    private readonly int[] _node;
    private readonly int[] _l3;
    private readonly int[] _apicId;
    private readonly int[] _osIndex;
    private readonly int[] _nodeOsIndex;
    private readonly int[] _distance;
    private readonly int[] _clusterIndex;
    /// <summary><see cref="NumaHops"/> by node pair, as <see cref="_distance"/>: every cache-line transfer between packages asks.</summary>
    private readonly int[] _hops;

    public Machine(string name, MachineLayout layout)
    {
        layout.Validate();
        Name = name;
        Layout = layout;
        _package = layout.Package;
        _core = layout.Core;
        _node = layout.Node;
        _l3 = layout.L3;
        _apicId = layout.ApicId;
        _osIndex = layout.OsIndex;
        _nodeOsIndex = layout.NodeOsIndex;
        _distance = layout.Distance;
        NodeCount = layout.NodeOsIndex.Length;
        PackageCount = _package.Max() + 1;
        CoreCount = _core.Max() + 1;
        L3Count = _l3.Max() + 1;
        var clusters = _apicId.Select(a => a >> X2ApicClusterShift).Distinct().Order().Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);
        ClusterCount = clusters.Count;
        _clusterIndex = _apicId.Select(a => clusters[a >> X2ApicClusterShift]).ToArray();
        _hops = new int[_distance.Length];
        for (var a = 0; a < NodeCount; a++)
            for (var b = 0; b < NodeCount; b++)
                _hops[a * NodeCount + b] = HopsAt(a, b);
    }

    public string Name { get; }

    /// <summary>The per-CPU arrays the machine was built from (read-only by convention), for serialization.</summary>
    public MachineLayout Layout { get; }

    public int CpuCount => _package.Length;
    public int PackageCount { get; }
    public int CoreCount { get; }
    public int NodeCount { get; }

    /// <summary>L3 domains (0 when the source describes no L3 cache).</summary>
    public int L3Count { get; }

    public int ClusterCount { get; }

    public int PackageOf(int cpu) => _package[cpu];
    public int CoreOf(int cpu) => _core[cpu];
    public int NodeOf(int cpu) => _node[cpu];

    /// <summary>The CPU's L3 domain, or −1 when the machine has no L3 cache.</summary>
    public int L3Of(int cpu) => _l3[cpu];

    public int ApicIdOf(int cpu) => _apicId[cpu];

    /// <summary>The CPU's number on the machine it was imported from (its PU os_index, lscpu's CPU column).</summary>
    public int OsIndexOf(int cpu) => _osIndex[cpu];

    /// <summary>The NUMA node's number on the machine it was imported from.</summary>
    public int NodeOsIndexOf(int node) => _nodeOsIndex[node];

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
        if (_l3[a] == _l3[b]) return CpuRelation.SameL3;
        return _package[a] == _package[b] ? CpuRelation.SamePackage : CpuRelation.RemotePackage;
    }

    /// <summary>
    /// NUMA hops between the nodes of two CPUs, read off the SLIT: 0 for the same node, else
    /// round((distance − 10) / 11), at least 1. SLIT 21 is one hop and 31–32 two, as firmware
    /// commonly reports them; larger UV-class distances map to more hops.
    /// </summary>
    public int NumaHops(int a, int b) => _hops[_node[a] * NodeCount + _node[b]];

    private int HopsAt(int nodeA, int nodeB) => nodeA == nodeB
        ? 0
        : Math.Max(1, (int)Math.Round((NodeDistance(nodeA, nodeB) - 10) / 11.0, MidpointRounding.AwayFromZero));
}

/// <summary>
/// A machine as plain arrays indexed by simulated CPU (and the node-by-node SLIT), all ids
/// dense from 0. This is what travels to the silos and what the topology importers produce.
/// </summary>
public sealed record MachineLayout(
    int[] Package,
    int[] Core,
    int[] Node,
    int[] L3,
    int[] ApicId,
    int[] OsIndex,
    int[] NodeOsIndex,
    int[] Distance)
{
    public void Validate()
    {
        var n = Package.Length;
        if (n is < 1 or > Machine.MaxCpus) throw new TopologySpecException($"a machine has 1 to {Machine.MaxCpus} CPUs, not {n}");
        if (Core.Length != n || Node.Length != n || L3.Length != n || ApicId.Length != n || OsIndex.Length != n)
            throw new TopologySpecException("per-CPU arrays must have the same length");
        var nodes = NodeOsIndex.Length;
        Machine.CheckNodeCount(nodes);
        if (nodes < 1 || Distance.Length != nodes * nodes)
            throw new TopologySpecException($"the distance matrix must be {nodes}x{nodes}");
        if (Node.Any(x => x < 0 || x >= nodes)) throw new TopologySpecException("a CPU is on a NUMA node that does not exist");
        if (ApicId.Distinct().Count() != n) throw new TopologySpecException("APIC IDs must be unique");
    }
}
