namespace Shootdown.Model.Topology;

/// <summary>
/// "What if this machine had 8192 CPUs?": builds a larger (or smaller) machine out of whole
/// packages of a real one.
/// <list type="bullet">
/// <item>The unit is one package with its cores, SMT threads, L3 domains and NUMA nodes, so
/// every package of the result is a package of the source. The target must be a whole number
/// of packages (when the source's packages differ in size, a whole number of source machines).</item>
/// <item>Packages are taken in order, copy after copy of the source machine: copy k holds
/// packages k·P … k·P+P−1 and the last copy may stop part-way.</item>
/// <item>CPUs are numbered copy after copy; within a copy, in the source's order.</item>
/// <item>Distances: nodes of one copy keep the source's SLIT; nodes of different copies are
/// the source's largest distance + 10 apart, one more interconnect level, as in the synthetic
/// spec's groups.</item>
/// </list>
/// </summary>
public static class MachineScaling
{
    public static Machine Scale(Machine source, int targetCpus)
    {
        if (targetCpus is < 1 or > Machine.MaxCpus)
            throw new TopologySpecException($"scale must be from 1 to {Machine.MaxCpus} CPUs, not {targetCpus}");
        var packageSizes = Enumerable.Range(0, source.CpuCount).GroupBy(source.PackageOf).Select(g => g.Count()).Distinct().ToList();
        var unit = packageSizes.Count == 1 ? packageSizes[0] : source.CpuCount;
        if (targetCpus % unit != 0)
        {
            var below = targetCpus / unit * unit;
            var options = below == 0 ? $"{unit}" : $"{below} or {below + unit}";
            throw new TopologySpecException(
                $"{targetCpus} CPUs is not a whole number of {(unit == source.CpuCount ? "source machines" : "packages")} of {unit} CPUs (try {options})");
        }

        var packagesWanted = packageSizes.Count == 1 ? targetCpus / unit : targetCpus / unit * source.PackageCount;
        CheckNodes(source, packagesWanted, targetCpus, unit, packageSizes.Count == 1 ? 1 : source.PackageCount);
        var maxDistance = Enumerable.Range(0, source.NodeCount).SelectMany(a => Enumerable.Range(0, source.NodeCount).Select(b => source.NodeDistance(a, b))).Max();
        var builder = new MachineBuilder();
        var nodes = new Dictionary<(int Copy, int Node), int>();
        var copies = (packagesWanted + source.PackageCount - 1) / source.PackageCount;
        for (var copy = 0; copy < copies; copy++)
        {
            var packagesInCopy = Math.Min(source.PackageCount, packagesWanted - copy * source.PackageCount);
            for (var cpu = 0; cpu < source.CpuCount; cpu++)
            {
                if (source.PackageOf(cpu) >= packagesInCopy) continue;
                var nodeKey = (copy, source.NodeOf(cpu));
                if (!nodes.TryGetValue(nodeKey, out var node)) nodes[nodeKey] = node = nodes.Count;
                builder.Add(new MachineBuilder.CpuPlace(
                    OsIndex: builder.Count,
                    Package: copy * source.PackageCount + source.PackageOf(cpu),
                    Core: source.CoreOf(cpu),
                    Node: node,
                    L3: source.L3Of(cpu) < 0 ? -1 : copy * source.L3Count + source.L3Of(cpu)));
            }
        }

        var nodeList = nodes.OrderBy(kv => kv.Value).Select(kv => kv.Key).ToArray();
        var distance = new int[nodeList.Length * nodeList.Length];
        for (var a = 0; a < nodeList.Length; a++)
        for (var b = 0; b < nodeList.Length; b++)
            distance[a * nodeList.Length + b] = nodeList[a].Copy == nodeList[b].Copy
                ? source.NodeDistance(nodeList[a].Node, nodeList[b].Node)
                : maxDistance + 10;
        return builder.Build($"{source.Name} scaled to {targetCpus} CPUs", Enumerable.Range(0, nodeList.Length).ToArray(), distance);
    }

    /// <summary>
    /// Refuses a target whose copies would hold more NUMA nodes than Linux allows, before any is
    /// built, and names the largest size that fits (a machine of one package per node runs out
    /// of nodes long before it runs out of CPUs).
    /// </summary>
    private static void CheckNodes(Machine source, int packagesWanted, int targetCpus, int unit, int packagesPerStep)
    {
        // The nodes the first r packages of one copy use, for r = 0 … P.
        var nodesOf = new HashSet<int>[source.PackageCount];
        for (var cpu = 0; cpu < source.CpuCount; cpu++) (nodesOf[source.PackageOf(cpu)] ??= []).Add(source.NodeOf(cpu));
        var below = new int[source.PackageCount + 1];
        var seen = new HashSet<int>();
        for (var package = 0; package < source.PackageCount; package++)
        {
            seen.UnionWith(nodesOf[package] ?? []);
            below[package + 1] = seen.Count;
        }
        long NodesFor(int packages) => (long)packages / source.PackageCount * source.NodeCount + below[packages % source.PackageCount];
        var nodes = NodesFor(packagesWanted);
        if (nodes <= Machine.MaxNodes) return;
        var fits = packagesWanted;
        while (fits > 0 && NodesFor(fits) > Machine.MaxNodes) fits -= packagesPerStep;
        var largest = (long)fits * unit / packagesPerStep;
        throw new TopologySpecException(
            $"{targetCpus:N0} CPUs would take {nodes:N0} NUMA nodes; Linux allows at most {Machine.MaxNodes} (MAX_NUMNODES with NODES_SHIFT 10): " +
            $"try at most {largest:N0} CPUs, or a source machine with more CPUs per node");
    }
}
