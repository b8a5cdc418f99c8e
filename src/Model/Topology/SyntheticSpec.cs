namespace Shootdown.Model.Topology;

/// <summary>
/// A subset of hwloc's synthetic topology grammar (<c>lstopo -i "pack:2 numa:1 core:8 pu:2"</c>):
/// whitespace-separated <c>type:count</c> levels, outermost first. Accepted levels, in order:
/// <c>group</c> (repeatable, outermost first), <c>pack</c>/<c>package</c>/<c>socket</c>,
/// <c>numa</c>/<c>node</c> and <c>l3</c> (either order, each at most once), <c>core</c>, <c>pu</c>.
/// A missing level counts 1; with no <c>numa</c> level each package is one NUMA node.
/// <para>
/// The SLIT is derived from the hierarchy: 10 within a node, 12 between nodes of one package,
/// 21 between packages of the same innermost group, and 10 more for each group level further out.
/// </para>
/// </summary>
public static class SyntheticSpec
{
    private enum Level { Group, Package, Numa, L3, Core, Pu }

    public static Machine Parse(string spec, string? name = null)
    {
        var tokens = spec.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (tokens.Length == 0) throw new TopologySpecException("empty synthetic topology");

        var groups = new List<int>();
        int packages = 1, numaPerPackage = 1, l3PerPackage = 1, cores = 1, pus = 1;
        var seen = new HashSet<Level>();
        var last = Level.Group;
        foreach (var token in tokens)
        {
            var colon = token.IndexOf(':');
            if (colon <= 0) throw new TopologySpecException($"'{token}' is not type:count");
            var type = token[..colon].ToLowerInvariant();
            var level = type switch
            {
                "group" => Level.Group,
                "pack" or "package" or "socket" => Level.Package,
                "numa" or "node" or "numanode" => Level.Numa,
                "l3" or "l3cache" => Level.L3,
                "core" => Level.Core,
                "pu" => Level.Pu,
                _ => throw new TopologySpecException($"unknown level '{type}' (expected group, pack, numa, l3, core or pu)"),
            };
            if (!int.TryParse(token[(colon + 1)..], out var count) || count < 1 || count > Machine.MaxCpus)
                throw new TopologySpecException($"'{token}': the count must be a whole number from 1 to {Machine.MaxCpus}");
            var outOfOrder = level < last && !(level is Level.Numa or Level.L3 && last is Level.Numa or Level.L3);
            if (outOfOrder || (level != Level.Group && !seen.Add(level)))
                throw new TopologySpecException($"'{token}': levels go outermost first (group, pack, numa/l3, core, pu), each once");
            last = level;
            switch (level)
            {
                case Level.Group: groups.Add(count); break;
                case Level.Package: packages = count; break;
                case Level.Numa: numaPerPackage = count; break;
                case Level.L3: l3PerPackage = count; break;
                case Level.Core: cores = count; break;
                case Level.Pu: pus = count; break;
            }
        }

        if (cores % numaPerPackage != 0 || cores % l3PerPackage != 0)
            throw new TopologySpecException($"{cores} cores per package do not split evenly into {numaPerPackage} NUMA nodes and {l3PerPackage} L3 domains");
        var totalPackages = groups.Aggregate(1L, (a, g) => a * g) * packages;
        var total = totalPackages * cores * pus;
        if (total > Machine.MaxCpus)
            throw new TopologySpecException($"the spec describes {total} CPUs; the largest machine accepted is {Machine.MaxCpus}");
        Machine.CheckNodeCount(totalPackages * numaPerPackage);
        return Build(name ?? spec, groups, packages, (int)totalPackages, numaPerPackage, l3PerPackage, cores, pus);
    }

    private static Machine Build(string name, List<int> groups, int packagesPerGroup, int packageCount, int numaPerPackage, int l3PerPackage, int coresPerPackage, int pusPerCore)
    {
        var coreCount = packageCount * coresPerPackage;
        var coresPerNode = coresPerPackage / numaPerPackage;
        var coresPerL3 = coresPerPackage / l3PerPackage;
        var builder = new MachineBuilder();
        // Linux's x86 enumeration: the first thread of every core across all packages, then the second threads.
        for (var t = 0; t < pusPerCore; t++)
        for (var p = 0; p < packageCount; p++)
        for (var c = 0; c < coresPerPackage; c++)
            builder.Add(new MachineBuilder.CpuPlace(t * coreCount + p * coresPerPackage + c, p, c, p * numaPerPackage + c / coresPerNode, c / coresPerL3));

        var nodeCount = packageCount * numaPerPackage;
        var distance = new int[nodeCount * nodeCount];
        for (var a = 0; a < nodeCount; a++)
        for (var b = 0; b < nodeCount; b++)
            distance[a * nodeCount + b] = NodeDistance(a, b, numaPerPackage, packagesPerGroup, groups);
        return builder.Build(name, Enumerable.Range(0, nodeCount).ToArray(), distance);
    }

    private static int NodeDistance(int a, int b, int numaPerPackage, int packagesPerGroup, List<int> groups)
    {
        if (a == b) return 10;
        var pa = a / numaPerPackage;
        var pb = b / numaPerPackage;
        if (pa == pb) return 12;
        // Packages of the same innermost group are 21 apart; each group level further out adds 10.
        var distance = 21;
        long size = packagesPerGroup;
        for (var level = groups.Count - 1; level >= 0; level--)
        {
            if (pa / size == pb / size) return distance;
            distance += 10;
            size *= groups[level];
        }
        return groups.Count == 0 ? 21 : distance;
    }
}

/// <summary>A topology description that cannot be turned into a machine.</summary>
public sealed class TopologySpecException(string message) : Exception(message);
