using System.Globalization;
using Shootdown.Model.Topology;

namespace Shootdown.Scenarios.Topology;

/// <summary>
/// Reads <c>lscpu -p</c> (or <c>lscpu --parse=...</c>) output, alone or after lscpu's summary:
/// the header line <c># CPU,Core,Socket,Node,,L1d,L1i,L2,L3</c> (cache columns follow the empty
/// column), then one line per CPU.
/// <list type="bullet">
/// <item>Only the first parsable section is read (util-linux's test outputs append further
/// ones, e.g. with physical ids).</item>
/// <item>Columns used: CPU (required), Core, Socket, Node and L3; missing ones mean "one of
/// them". A <c>-</c> (unknown) counts as 0 for Socket and Node and as the CPU's own core for Core.
/// A CPU whose Online column says N is not simulated.</item>
/// <item>lscpu prints no NUMA distances: Linux's default 10/20 applies.</item>
/// </list>
/// </summary>
public static class LscpuParsable
{
    public static bool LooksLikeLscpu(string text) => FindHeader(text.Split('\n')) >= 0;

    public static Machine Parse(string file, string text, string name)
    {
        var lines = text.Split('\n');
        var headerLine = FindHeader(lines);
        if (headerLine < 0) throw new ScenarioException(file, 1, 1, "(lscpu)", "no '# CPU,...' header line: not lscpu -p output");
        var header = lines[headerLine].TrimEnd('\r')[1..].Trim().Split(',');
        var columns = header.Select((h, i) => (h, i)).Where(p => p.h.Length > 0).GroupBy(p => p.h).ToDictionary(g => g.Key, g => g.First().i);
        // lscpu prints cache columns after an empty one; their names cannot clash with the others.
        int Column(string name) => columns.GetValueOrDefault(name, -1);
        int cpuCol = Column("CPU"), coreCol = Column("Core"), socketCol = Column("Socket"), nodeCol = Column("Node"), l3Col = Column("L3"), onlineCol = Column("Online");
        if (cpuCol < 0) throw new ScenarioException(file, headerLine + 1, 3, "(lscpu).CPU", "the header has no CPU column");

        var rows = new List<(int Cpu, int Core, int Socket, int Node, int L3)>();
        var seen = new Dictionary<int, int>();
        for (var l = headerLine + 1; l < lines.Length; l++)
        {
            var line = lines[l].TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith('#')) break;
            var fields = line.Split(',');
            if (fields.Length != header.Length)
                throw new ScenarioException(file, l + 1, 1, "(lscpu)", $"{fields.Length} columns where the header has {header.Length}");
            int Field(int col, string column, int unknown)
            {
                if (col < 0) return 0;
                var s = fields[col];
                if (s == "-") return unknown;
                return int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v < 1 << 24
                    ? v
                    : throw new ScenarioException(file, l + 1, ColumnStart(fields, col) + 1, $"(lscpu).{column}", $"'{s}' is not a whole number");
            }
            var cpu = Field(cpuCol, "CPU", -1);
            if (cpu < 0) throw new ScenarioException(file, l + 1, 1, "(lscpu).CPU", "the CPU number is required");
            if (seen.TryGetValue(cpu, out var firstLine))
                throw new ScenarioException(file, l + 1, 1, "(lscpu).CPU", $"CPU {cpu} appears twice (first on line {firstLine})");
            seen[cpu] = l + 1;
            if (onlineCol >= 0 && fields[onlineCol] is "N" or "n") continue;
            if (rows.Count == Machine.MaxCpus)
                throw new ScenarioException(file, l + 1, 1, "(lscpu).CPU", $"more than {Machine.MaxCpus} CPUs; the largest machine accepted is {Machine.MaxCpus}");
            rows.Add((cpu, coreCol < 0 ? -1 - cpu : Field(coreCol, "Core", -1 - cpu), Field(socketCol, "Socket", 0), Field(nodeCol, "Node", 0), l3Col < 0 ? -1 : Field(l3Col, "L3", -1)));
        }
        if (rows.Count == 0) throw new ScenarioException(file, headerLine + 2, 1, "(lscpu)", "no CPU lines after the header");

        rows.Sort((a, b) => a.Cpu.CompareTo(b.Cpu));
        var nodeIds = rows.Select(r => r.Node).Distinct().Order().ToArray();
        var dense = nodeIds.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i);
        var builder = new MachineBuilder();
        foreach (var r in rows) builder.Add(new MachineBuilder.CpuPlace(r.Cpu, r.Socket, r.Core, dense[r.Node], r.L3));
        try
        {
            return builder.Build(name, nodeIds, MachineBuilder.DefaultDistances(nodeIds.Length));
        }
        catch (TopologySpecException e)
        {
            throw new ScenarioException(file, headerLine + 1, 1, "(lscpu)", e.Message);
        }
    }

    private static int FindHeader(string[] lines) =>
        Array.FindIndex(lines, l => l.StartsWith("# CPU", StringComparison.Ordinal) && (l.Length == 5 || l[5] is ',' or '\r'));

    private static int ColumnStart(string[] fields, int col) => fields.Take(col).Sum(f => f.Length + 1);
}
