using Shootdown.Model.Topology;
using Shootdown.Model.Costs;

namespace Shootdown.Scenarios.Topology;

/// <summary>
/// Where a machine comes from: a preset, an hwloc synthetic spec, or a file (hwloc XML or
/// lscpu -p, told apart by their content), optionally scaled.
/// </summary>
public static class TopologyFiles
{
    /// <summary>
    /// Topology files are refused above this size before they are read. The largest hwloc XML
    /// of a 65,536-CPU machine with every cache level is about 40 MB.
    /// </summary>
    public const int MaxFileBytes = 64 << 20;

    public static Machine Import(string path)
    {
        return Parse(path, InputFiles.ReadText(path, MaxFileBytes, "a topology file", InputFiles.AtFile(path)));
    }

    public static Machine Parse(string path, string text)
    {
        var name = path == InputFiles.StandardInput ? "(standard input)" : Path.GetFileName(path);
        var start = text.TrimStart('\uFEFF', ' ', '\t', '\r', '\n');
        if (start.StartsWith('<')) return HwlocXml.Parse(path, text, name);
        if (LscpuParsable.LooksLikeLscpu(text)) return LscpuParsable.Parse(path, text, name);
        throw new ScenarioException(path, 1, 1, "(file)", "neither hwloc XML (lstopo --of xml) nor lscpu -p output");
    }

    /// <summary>
    /// This host for <c>local</c>, a file if one exists at <paramref name="reference"/> (standard
    /// input for <c>-</c>), else a preset or synthetic spec (errors name <paramref name="where"/>).
    /// </summary>
    public static Machine Resolve(string reference, string where = "(topology)")
    {
        if (reference == SysfsTopology.Local) return SysfsTopology.Read();
        if (reference == InputFiles.StandardInput || File.Exists(reference)) return Import(reference);
        try
        {
            return Presets.Resolve(reference);
        }
        catch (TopologySpecException e)
        {
            throw new ScenarioException(where, 0, 0, "machine", $"'{reference}' is not a file, a preset or a synthetic spec: {e.Message}");
        }
    }
}
