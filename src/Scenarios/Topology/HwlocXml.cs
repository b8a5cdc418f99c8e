using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using Shootdown.Model.Topology;

namespace Shootdown.Scenarios.Topology;

/// <summary>
/// Reads <c>lstopo --of xml</c> output, hwloc 2.x and 3.x (<c>&lt;topology version="2.0"|"3.0"&gt;</c>).
/// <list type="bullet">
/// <item>Simulated CPUs are the PUs that are online (in the root object's <c>cpuset</c>) and
/// allowed (in its <c>allowed_cpuset</c>, when present), numbered in os_index order.</item>
/// <item>A PU's core, package and L3 domain are its nearest Core, Package and L3Cache
/// ancestors; its NUMA node is the NUMANode whose <c>cpuset</c> holds it (NUMA nodes are memory
/// children beside the caches, not ancestors).</item>
/// <item>NUMA distances come from the <c>distances2</c> matrix of type NUMANode, preferring
/// the one named NUMALatency; without one, Linux's default 10/20 applies.</item>
/// </list>
/// </summary>
public static class HwlocXml
{
    public static Machine Parse(string file, string text, string name)
    {
        var document = Load(file, text);
        var topology = document.Root!;
        if (topology.Name.LocalName != "topology") throw Error(file, topology, "(root)", $"expected <topology>, found <{topology.Name.LocalName}>");
        var version = (string?)topology.Attribute("version") ?? "2.0";
        if (!(version.StartsWith("2.", StringComparison.Ordinal) || version.StartsWith("3.", StringComparison.Ordinal)))
            throw Error(file, topology, "topology.version", $"hwloc XML version {version} is not supported (expected 2.x or 3.x; re-export with hwloc 2 or later)");
        var root = topology.Element("object") ?? throw Error(file, topology, "topology", "has no root <object>");
        var online = OptionalBitmap(file, root, "cpuset");
        var allowed = OptionalBitmap(file, root, "allowed_cpuset");

        var nodes = new List<(int OsIndex, string? GpIndex, Bitmap Cpus)>();
        var pus = new List<(int OsIndex, XElement Element, XElement? Core, XElement? Package, XElement? L3)>();
        var seenPu = new Dictionary<int, XElement>();
        Walk(root, core: null, package: null, l3: null);

        void Walk(XElement obj, XElement? core, XElement? package, XElement? l3)
        {
            var type = (string?)obj.Attribute("type") ?? throw Error(file, obj, "object.type", "is required");
            switch (type)
            {
                case "Core": core = obj; break;
                case "Package": package = obj; break;
                case "L3Cache": l3 = obj; break;
                case "NUMANode":
                    nodes.Add((RequiredInt(file, obj, "os_index", "NUMANode"), (string?)obj.Attribute("gp_index"), RequiredBitmap(file, obj, "cpuset")));
                    break;
                case "PU":
                    var os = RequiredInt(file, obj, "os_index", "PU");
                    if (seenPu.TryGetValue(os, out var first))
                        throw Error(file, obj, "object[PU].os_index", $"PU os_index {os} appears twice (first at line {((IXmlLineInfo)first).LineNumber})");
                    seenPu[os] = obj;
                    if ((online?.Contains(os) ?? true) && (allowed?.Contains(os) ?? true))
                    {
                        if (pus.Count == Machine.MaxCpus) throw Error(file, obj, "object[PU]", $"more than {Machine.MaxCpus} CPUs; the largest machine accepted is {Machine.MaxCpus}");
                        pus.Add((os, obj, core, package, l3));
                    }
                    break;
            }
            foreach (var child in obj.Elements("object")) Walk(child, core, package, l3);
        }

        if (pus.Count == 0) throw Error(file, root, "object", "no online, allowed PU: the machine would have no CPUs");
        pus.Sort((a, b) => a.OsIndex.CompareTo(b.OsIndex));
        var nodeOfPu = pus.Select(p => nodes.FindIndex(n => n.Cpus.Contains(p.OsIndex))).ToArray();
        if (nodes.Count > 0 && Array.IndexOf(nodeOfPu, -1) is var orphan and >= 0)
            throw Error(file, pus[orphan].Element, "object[PU]", $"PU {pus[orphan].OsIndex} is in no NUMANode's cpuset");
        if (nodes.Count == 0) nodes.Add((0, null, Bitmap.Empty));

        // Dense node numbers, in os_index order, for the nodes that hold simulated CPUs.
        var used = nodeOfPu.Select(i => Math.Max(i, 0)).Distinct().OrderBy(i => nodes[i].OsIndex).ToArray();
        var dense = used.Select((n, d) => (n, d)).ToDictionary(p => p.n, p => p.d);

        var builder = new MachineBuilder();
        var ids = new Dictionary<XElement, int>(ReferenceEqualityComparer.Instance);
        int Id(XElement? e) => e is null ? 0 : ids.TryGetValue(e, out var id) ? id : ids[e] = ids.Count;
        for (var i = 0; i < pus.Count; i++)
        {
            var p = pus[i];
            builder.Add(new MachineBuilder.CpuPlace(p.OsIndex, Id(p.Package), p.Core is null ? -1 - i : Id(p.Core), dense[Math.Max(nodeOfPu[i], 0)], p.L3 is null ? -1 : Id(p.L3)));
        }
        try
        {
            Machine.CheckNodeCount(used.Length);
            var distance = Distances(file, topology, nodes, used) ?? MachineBuilder.DefaultDistances(used.Length);
            return builder.Build(name, used.Select(n => nodes[n].OsIndex).ToArray(), distance);
        }
        catch (TopologySpecException e)
        {
            throw Error(file, root, "topology", e.Message);
        }
    }

    /// <summary>The NUMANode latency matrix restricted to the used nodes, or null if the file has none.</summary>
    private static int[]? Distances(string file, XElement topology, List<(int OsIndex, string? GpIndex, Bitmap Cpus)> nodes, int[] used)
    {
        var matrices = topology.Elements("distances2").Where(d => (string?)d.Attribute("type") == "NUMANode").ToList();
        var chosen = matrices.FirstOrDefault(d => (string?)d.Attribute("name") == "NUMALatency")
                     ?? matrices.FirstOrDefault(d => (ParseIntOr((string?)d.Attribute("kind"), 0) & 4) != 0);
        if (chosen is null) return null;
        var count = RequiredInt(file, chosen, "nbobjs", "distances2");
        if (count is < 1 or > 4096) throw Error(file, chosen, "distances2.nbobjs", $"{count} is out of range: expected 1 to 4096 NUMA nodes");
        var indexing = (string?)chosen.Attribute("indexing") ?? "os";
        if (indexing is not ("os" or "gp")) throw Error(file, chosen, "distances2.indexing", $"'{indexing}' is not os or gp");
        var indexes = Numbers(file, chosen, "indexes");
        if (indexes.Count != count)
            throw Error(file, chosen, "distances2.indexes", $"{indexes.Count} indexes for nbobjs={count}");
        var values = Numbers(file, chosen, "u64values");
        if (values.Count != (long)count * count)
            throw Error(file, chosen, "distances2.u64values", $"{values.Count} values do not make a {count}x{count} matrix (need {(long)count * count})");

        var position = new Dictionary<int, int>();
        for (var i = 0; i < count; i++)
        {
            var key = indexes[i];
            var node = indexing == "os"
                ? nodes.FindIndex(n => n.OsIndex == key)
                : nodes.FindIndex(n => n.GpIndex == key.ToString(CultureInfo.InvariantCulture));
            if (node < 0) throw Error(file, chosen, "distances2.indexes", $"no NUMANode with {indexing}_index {key}");
            if (!position.TryAdd(node, i)) throw Error(file, chosen, "distances2.indexes", $"NUMANode {key} is listed twice");
        }
        var matrix = new int[used.Length * used.Length];
        for (var a = 0; a < used.Length; a++)
        for (var b = 0; b < used.Length; b++)
        {
            if (!position.TryGetValue(used[a], out var ra) || !position.TryGetValue(used[b], out var rb))
                throw Error(file, chosen, "distances2.indexes", $"NUMANode {nodes[used[position.ContainsKey(used[a]) ? b : a]].OsIndex} has CPUs but is missing from the matrix");
            var v = values[ra * count + rb];
            if (v is < 1 or > 100_000) throw Error(file, chosen, "distances2.u64values", $"distance {v} is out of range: expected 1 to 100000");
            matrix[a * used.Length + b] = (int)v;
        }
        return matrix;
    }

    private static XDocument Load(string file, string text)
    {
        var settings = new XmlReaderSettings
        {
            // The DOCTYPE names hwloc2.dtd; nothing is fetched or expanded.
            DtdProcessing = DtdProcessing.Ignore,
            XmlResolver = null,
            MaxCharactersInDocument = TopologyFiles.MaxFileBytes,
        };
        try
        {
            using var reader = XmlReader.Create(new StringReader(text), settings);
            return XDocument.Load(reader, LoadOptions.SetLineInfo);
        }
        catch (XmlException e)
        {
            throw new ScenarioException(file, e.LineNumber, e.LinePosition, "(xml)", e.Message.Split(" Line ")[0]);
        }
    }

    private static List<long> Numbers(string file, XElement parent, string element)
    {
        var list = new List<long>();
        foreach (var chunk in parent.Elements(element))
        foreach (var word in chunk.Value.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            if (!long.TryParse(word, NumberStyles.None, CultureInfo.InvariantCulture, out var v))
                throw Error(file, chunk, $"distances2.{element}", $"'{word}' is not a whole number");
            list.Add(v);
            if (list.Count > 4096 * 4096) throw Error(file, chunk, $"distances2.{element}", "too many values");
        }
        return list;
    }

    private static int RequiredInt(string file, XElement e, string attribute, string what)
    {
        var text = (string?)e.Attribute(attribute) ?? throw Error(file, e, $"object[{what}].{attribute}", "is required");
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v <= 1 << 24
            ? v
            : throw Error(file, e, $"object[{what}].{attribute}", $"'{text}' is not a whole number from 0 to {1 << 24}");
    }

    private static int ParseIntOr(string? text, int fallback) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : fallback;

    private static Bitmap RequiredBitmap(string file, XElement e, string attribute) =>
        OptionalBitmap(file, e, attribute) ?? throw Error(file, e, $"object.{attribute}", "is required");

    private static Bitmap? OptionalBitmap(string file, XElement e, string attribute)
    {
        var text = (string?)e.Attribute(attribute);
        if (text is null) return null;
        return Bitmap.TryParse(text) ?? throw Error(file, e, $"object.{attribute}", $"'{Truncate(text)}' is not an hwloc bitmap (0x-prefixed 32-bit hex words, most significant first)");
    }

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";

    private static ScenarioException Error(string file, XObject at, string field, string problem)
    {
        var info = (IXmlLineInfo)at;
        return new ScenarioException(file, info.LineNumber, info.LinePosition, field, problem);
    }

    /// <summary>
    /// hwloc's bitmap text: comma-separated 32-bit words, most significant first, an empty word
    /// meaning zero; a leading <c>0xf...f</c> word means every higher bit is set.
    /// </summary>
    private sealed class Bitmap
    {
        public static readonly Bitmap Empty = new([], false);

        private readonly uint[] _words; // least significant first
        private readonly bool _infinite;

        private Bitmap(uint[] words, bool infinite)
        {
            _words = words;
            _infinite = infinite;
        }

        public bool Contains(int bit)
        {
            var w = bit >> 5;
            return w < _words.Length ? (_words[w] >> (bit & 31) & 1) != 0 : _infinite;
        }

        public static Bitmap? TryParse(string text)
        {
            var parts = text.Split(',');
            if (parts.Length > 1 << 16) return null;
            var infinite = parts[0] == "0xf...f";
            var words = new List<uint>();
            for (var i = parts.Length - 1; i >= (infinite ? 1 : 0); i--)
            {
                var part = parts[i];
                if (part.Length == 0) { words.Add(0); continue; }
                if (!part.StartsWith("0x", StringComparison.Ordinal) ||
                    !uint.TryParse(part.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var v)) return null;
                words.Add(v);
            }
            return new Bitmap([.. words], infinite);
        }
    }
}
