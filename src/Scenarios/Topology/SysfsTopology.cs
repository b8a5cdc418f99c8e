using System.Globalization;
using Shootdown.Model.Topology;

namespace Shootdown.Scenarios.Topology;

/// <summary>
/// <c>machine: local</c>: this host as Linux describes it in sysfs
/// (Documentation/ABI/stable/sysfs-devices-system-cpu and sysfs-devices-node): the online CPUs
/// (<c>cpu/online</c>), each one's package and core (<c>cpuN/topology/physical_package_id</c>,
/// <c>core_id</c>), its L3 (the <c>cpuN/cache/indexK</c> of level 3, by the CPUs that share
/// it), its NUMA node (<c>nodeN/cpulist</c>) and the distances between nodes
/// (<c>nodeN/distance</c>, the firmware's SLIT), which <c>lscpu -p</c> does not print. hwloc
/// reads the same files; what the model uses is all here, so no hwloc is needed.
/// </summary>
public static class SysfsTopology
{
    /// <summary>The name a scenario and <c>topology show</c> give this host by.</summary>
    public const string Local = "local";

    public static Machine Read(string sysfs = "/sys")
    {
        var cpuDir = Path.Combine(sysfs, "devices", "system", "cpu");
        var online = Cpus(Text(Path.Combine(cpuDir, "online")), "cpu/online");
        var nodeDir = Path.Combine(sysfs, "devices", "system", "node");
        // Each CPU's node; a kernel without NUMA has no node directory, and one node.
        var nodeOf = new Dictionary<int, int>();
        var nodeIds = new List<int>();
        if (Directory.Exists(nodeDir))
            foreach (var dir in Directory.EnumerateDirectories(nodeDir, "node*").Order(StringComparer.Ordinal))
            {
                if (!int.TryParse(Path.GetFileName(dir)[4..], NumberStyles.None, CultureInfo.InvariantCulture, out var node)) continue;
                var cpus = Cpus(Text(Path.Combine(dir, "cpulist")), $"node/node{node}/cpulist");
                foreach (var cpu in cpus) nodeOf[cpu] = node;
                nodeIds.Add(node);
            }
        nodeIds.Sort();
        var numa = nodeIds.Count > 0;
        if (!numa) nodeIds.Add(0);
        var dense = nodeIds.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i);

        var cores = new Dictionary<(int Package, int Core), int>();
        var l3s = new Dictionary<string, int>();
        var builder = new MachineBuilder();
        foreach (var cpu in online)
        {
            var topology = Path.Combine(cpuDir, $"cpu{cpu}", "topology");
            var package = Number(Path.Combine(topology, "physical_package_id"));
            var coreId = Number(Path.Combine(topology, "core_id"));
            // core_id is unique only within its package: the machine numbers cores across packages.
            if (!cores.TryGetValue((package, coreId), out var core)) cores[(package, coreId)] = core = cores.Count;
            var l3 = L3SharedWith(Path.Combine(cpuDir, $"cpu{cpu}", "cache")) is { } shared
                ? l3s.TryGetValue(shared, out var known) ? known : l3s[shared] = l3s.Count
                : -1;
            builder.Add(new MachineBuilder.CpuPlace(cpu, package, core, dense[nodeOf.GetValueOrDefault(cpu, nodeIds[0])], l3));
        }
        var distances = numa ? Distances(nodeDir, nodeIds) : MachineBuilder.DefaultDistances(1);
        try
        {
            return builder.Build($"{Local} ({Environment.MachineName})", [.. nodeIds], distances);
        }
        catch (TopologySpecException e)
        {
            throw Refused(cpuDir, e.Message);
        }
    }

    /// <summary>The CPUs that share this CPU's L3, as the key that names that L3; null where sysfs lists no level-3 cache.</summary>
    private static string? L3SharedWith(string cacheDir)
    {
        if (!Directory.Exists(cacheDir)) return null;
        foreach (var index in Directory.EnumerateDirectories(cacheDir, "index*").Order(StringComparer.Ordinal))
        {
            var level = Path.Combine(index, "level");
            if (File.Exists(level) && Text(level) == "3") return Text(Path.Combine(index, "shared_cpu_list"));
        }
        return null;
    }

    /// <summary>The SLIT row of each online node: <c>nodeN/distance</c> lists the distance to every online node, in node order.</summary>
    private static int[] Distances(string nodeDir, List<int> nodeIds)
    {
        var n = nodeIds.Count;
        var matrix = new int[n * n];
        for (var a = 0; a < n; a++)
        {
            var file = Path.Combine(nodeDir, $"node{nodeIds[a]}", "distance");
            var row = Text(file).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (row.Length != n) throw Refused(file, $"{row.Length} distances for {n} online nodes");
            for (var b = 0; b < n; b++)
                matrix[a * n + b] = int.TryParse(row[b], NumberStyles.None, CultureInfo.InvariantCulture, out var d) && d is > 0 and < 256
                    ? d
                    : throw Refused(file, $"'{row[b]}' is not a NUMA distance");
        }
        return matrix;
    }

    private static int[] Cpus(string list, string what)
    {
        try
        {
            return list.Length == 0 ? [] : CpuList.Parse(list, Machine.MaxCpus);
        }
        catch (FormatException e)
        {
            throw Refused(what, e.Message);
        }
    }

    private static int Number(string file) =>
        int.TryParse(Text(file), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) && v >= 0 ? v : throw Refused(file, $"'{Text(file)}' is not a whole number");

    private static string Text(string file)
    {
        try
        {
            return File.ReadAllText(file).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Refused(file, $"this host's sysfs cannot be read here ({e.Message.TrimEnd('.')})");
        }
    }

    private static ScenarioException Refused(string where, string why) => new(where, 0, 0, $"machine: {Local}", why);
}
