using System.Globalization;
using System.Text;
using Shootdown.Model.Topology;
using Shootdown.Scenarios;

namespace Shootdown.Analysis.Reporting;

/// <summary>
/// <c>shootdown topology show</c>: a machine described in the shapes users already compare
/// against, lscpu's summary lines, <c>numactl --hardware</c>'s distance table, and the x2APIC
/// clusters the IPI sender walks.
/// </summary>
public static class TopologySummary
{
    /// <summary>Matrices wider than this many nodes are summarised unless the full table is asked for.</summary>
    public const int MaxNodesInTable = 32;

    public static string Render(Machine m, bool full)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        void Line(string key, object value) => sb.Append(inv, $"{key + ":",-24}{value}\n");

        var threadsPerCore = Uniform(Enumerable.Range(0, m.CpuCount).GroupBy(m.CoreOf).Select(g => g.Count()));
        var coresPerSocket = Uniform(Enumerable.Range(0, m.CpuCount).GroupBy(m.PackageOf).Select(g => g.Select(m.CoreOf).Distinct().Count()));
        Line("Machine", m.Name);
        Line("CPU(s)", m.CpuCount);
        Line("Thread(s) per core", threadsPerCore);
        Line("Core(s) per socket", coresPerSocket);
        Line("Socket(s)", m.PackageCount);
        Line("L3 domain(s)", m.L3Count == 0 ? "none" : m.L3Count);
        Line("x2APIC cluster(s)", m.ClusterCount);
        Line("NUMA node(s)", m.NodeCount);
        foreach (var node in Enumerable.Range(0, m.NodeCount))
            Line($"NUMA node{m.NodeOsIndexOf(node)} CPU(s)", CpuList.Format(Enumerable.Range(0, m.CpuCount).Where(c => m.NodeOf(c) == node)));
        if (Enumerable.Range(0, m.CpuCount).Any(c => m.OsIndexOf(c) != c))
            Line("Source CPU numbers", $"{CpuList.Format(Enumerable.Range(0, m.CpuCount).Select(m.OsIndexOf))} (simulated CPU i is the i-th of these)");

        sb.Append('\n');
        sb.Append("SMT siblings (first sets):\n");
        foreach (var core in Enumerable.Range(0, m.CpuCount).GroupBy(m.CoreOf).Take(4))
            sb.Append(inv, $"  core {core.Key}: CPUs {CpuList.Format(core)}\n");

        sb.Append('\n');
        if (m.NodeCount <= MaxNodesInTable || full) Distances(sb, m);
        else DistanceSummary(sb, m);

        sb.Append('\n');
        sb.Append("x2APIC clusters (16 APIC IDs each):\n");
        var clusters = Enumerable.Range(0, m.CpuCount).GroupBy(m.X2ApicClusterIndexOf).ToList();
        foreach (var cluster in full ? clusters : clusters.Take(8))
            sb.Append(inv, $"  cluster {cluster.Key}: CPUs {CpuList.Format(cluster)}\n");
        if (!full && clusters.Count > 8) sb.Append(inv, $"  ... {clusters.Count - 8} more (--full lists them all)\n");
        return sb.ToString();
    }

    /// <summary>numactl --hardware's "node distances:" table, headed by the source's node numbers.</summary>
    private static void Distances(StringBuilder sb, Machine m)
    {
        var inv = CultureInfo.InvariantCulture;
        sb.Append("node distances:\n");
        sb.Append("node ");
        for (var b = 0; b < m.NodeCount; b++) sb.Append(inv, $"{m.NodeOsIndexOf(b),4}");
        sb.Append('\n');
        for (var a = 0; a < m.NodeCount; a++)
        {
            sb.Append(inv, $"{m.NodeOsIndexOf(a),3}: ");
            for (var b = 0; b < m.NodeCount; b++) sb.Append(inv, $"{m.NodeDistance(a, b),4}");
            sb.Append('\n');
        }
    }

    private static void DistanceSummary(StringBuilder sb, Machine m)
    {
        var inv = CultureInfo.InvariantCulture;
        sb.Append(inv, $"node distances: {m.NodeCount} nodes (--full prints the matrix); node pairs by distance:\n");
        var counts = Enumerable.Range(0, m.NodeCount).SelectMany(a => Enumerable.Range(0, m.NodeCount).Select(b => m.NodeDistance(a, b)))
            .GroupBy(d => d).OrderBy(g => g.Key);
        foreach (var g in counts) sb.Append(inv, $"  {g.Key,4}: {g.Count(),10:N0} pairs\n");
    }

    private static string Uniform(IEnumerable<int> values)
    {
        var distinct = values.Distinct().Order().ToList();
        return distinct.Count == 1 ? distinct[0].ToString(CultureInfo.InvariantCulture) : $"mixed ({string.Join(", ", distinct)})";
    }
}
