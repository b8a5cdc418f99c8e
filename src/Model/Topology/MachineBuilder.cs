namespace Shootdown.Model.Topology;

/// <summary>
/// Builds a <see cref="Machine"/> from where each CPU sits. Package, core and L3 ids may be any
/// numbers the source uses (hwloc gp_index, lscpu logical ids); they become dense in order of
/// first appearance. Cores are keyed by (package, core), since hwloc numbers cores per package.
/// <para>
/// APIC IDs are derived the way x86 firmware lays them out, package | core | SMT-thread bit
/// fields (the CPUID leaf 0xB shifts), with a CPU's thread number its rank among its core's
/// CPUs and its core number the core's rank in its package. Imports do not carry real APIC
/// IDs; what the model needs from them is the x2APIC cluster (<c>apicid &gt;&gt; 4</c>), and
/// this layout puts a package's cores in clusters of 16 consecutive IDs as real parts do.
/// </para>
/// </summary>
public sealed class MachineBuilder
{
    /// <summary>One simulated CPU: its number on the source machine, and the source's ids of its containers.</summary>
    public readonly record struct CpuPlace(int OsIndex, int Package, int Core, int Node, int L3);

    private readonly List<CpuPlace> _cpus = new();

    public int Count => _cpus.Count;

    public void Add(CpuPlace cpu)
    {
        if (_cpus.Count == Machine.MaxCpus)
            throw new TopologySpecException($"more than {Machine.MaxCpus} CPUs; the largest machine accepted is {Machine.MaxCpus}");
        _cpus.Add(cpu);
    }

    /// <summary>
    /// <paramref name="nodeOsIndex"/> lists the nodes' source numbers, in the dense order the
    /// CPUs' <see cref="CpuPlace.Node"/> values index; <paramref name="distance"/> is row-major.
    /// </summary>
    public Machine Build(string name, int[] nodeOsIndex, int[] distance)
    {
        var n = _cpus.Count;
        if (n == 0) throw new TopologySpecException("the machine has no CPUs");
        var package = Densify(_cpus.Select(c => c.Package));
        var core = Densify(_cpus.Select((c, i) => (package[i], c.Core)));
        var l3Ids = new Dictionary<(int, int), int>();
        var l3 = _cpus.Select((c, i) => c.L3 < 0 ? -1 : l3Ids.TryGetValue((package[i], c.L3), out var d) ? d : l3Ids[(package[i], c.L3)] = l3Ids.Count).ToArray();

        // Thread number = rank within the core; core number in package = rank of the core in its package.
        var threadOf = new int[n];
        var threadsInCore = new Dictionary<int, int>();
        var coreInPackage = new Dictionary<int, int>();
        var coresInPackage = new Dictionary<int, int>();
        var coreRank = new int[n];
        for (var i = 0; i < n; i++)
        {
            threadOf[i] = threadsInCore[core[i]] = threadsInCore.GetValueOrDefault(core[i], -1) + 1;
            if (!coreInPackage.TryGetValue(core[i], out var rank))
            {
                rank = coreInPackage[core[i]] = coresInPackage.GetValueOrDefault(package[i]);
                coresInPackage[package[i]] = rank + 1;
            }
            coreRank[i] = rank;
        }
        var threadBits = BitsFor(threadsInCore.Values.Max() + 1);
        var coreBits = BitsFor(coresInPackage.Values.Max());
        var apic = new int[n];
        for (var i = 0; i < n; i++) apic[i] = (package[i] << (coreBits + threadBits)) | (coreRank[i] << threadBits) | threadOf[i];

        var layout = new MachineLayout(package, core, _cpus.Select(c => c.Node).ToArray(), l3, apic,
            _cpus.Select(c => c.OsIndex).ToArray(), nodeOsIndex, distance);
        return new Machine(name, layout);
    }

    /// <summary>
    /// The distance Linux assumes without a SLIT: LOCAL_DISTANCE (10) on the diagonal,
    /// REMOTE_DISTANCE (20) elsewhere (include/linux/topology.h).
    /// </summary>
    public static int[] DefaultDistances(int nodes)
    {
        Machine.CheckNodeCount(nodes);
        var d = new int[nodes * nodes];
        for (var a = 0; a < nodes; a++)
        for (var b = 0; b < nodes; b++)
            d[a * nodes + b] = a == b ? 10 : 20;
        return d;
    }

    private static int[] Densify<T>(IEnumerable<T> ids) where T : notnull
    {
        var map = new Dictionary<T, int>();
        return ids.Select(id => map.TryGetValue(id, out var d) ? d : map[id] = map.Count).ToArray();
    }

    private static int BitsFor(int count)
    {
        var bits = 0;
        while ((1 << bits) < count) bits++;
        return bits;
    }
}
