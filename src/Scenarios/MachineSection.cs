using Shootdown.Model.Topology;
using Shootdown.Scenarios.Topology;
using YamlDotNet.RepresentationModel;
using Shootdown.Model.Costs;

namespace Shootdown.Scenarios;

/// <summary>
/// The scenario's <c>machine</c>: a preset name or synthetic spec as a plain string (or
/// <c>local</c>, this host from sysfs), or a mapping with exactly one of <c>preset</c>,
/// <c>synthetic</c>, <c>from</c> (an hwloc XML or lscpu -p file, or <c>local</c>) or
/// <c>include</c> (a YAML file holding such a mapping), and optionally
/// <c>scale</c>, the CPU count to grow or shrink it to (<see cref="MachineScaling"/>).
/// </summary>
internal static class MachineSection
{
    public static readonly string[] Fields = ["preset", "synthetic", "from", "include", "scale"];

    public static Machine Parse(YamlReader parent, string key, Includes includes)
    {
        var node = parent.Required(key);
        if (node is YamlScalarNode)
        {
            var spec = parent.RequiredString(key);
            return spec == SysfsTopology.Local ? SysfsTopology.Read() : Synthetic(parent, key, spec);
        }
        if (node is not YamlMappingNode map) throw parent.Error(node, parent.Field(key), "must be a preset name, a synthetic spec or a mapping");
        return ParseMapping(new YamlReader(parent.File, map, parent.Field(key)), includes);
    }

    private static Machine ParseMapping(YamlReader m, Includes includes)
    {
        m.RejectUnknownKeys(Fields);
        var sources = new[] { "preset", "synthetic", "from", "include" }.Where(m.Has).ToList();
        if (sources.Count != 1)
            throw m.Error(m.Node, m.Path, sources.Count == 0
                ? "give one of preset, synthetic, from (an hwloc XML or lscpu -p file) or include"
                : $"give only one of {string.Join(", ", sources)}");
        Machine machine;
        switch (sources[0])
        {
            case "preset":
                var name = m.RequiredString("preset");
                if (Presets.Find(name) is null)
                    throw m.Error("preset", $"unknown preset '{name}' (expected one of {string.Join(", ", Presets.All.Select(p => p.Name))})");
                machine = Presets.Resolve(name);
                break;
            case "synthetic":
                machine = Synthetic(m, "synthetic", m.RequiredString("synthetic"));
                break;
            case "from":
                var relative = m.RequiredString("from");
                if (relative == SysfsTopology.Local)
                {
                    machine = SysfsTopology.Read();
                    break;
                }
                var path = includes.Resolve(relative);
                if (!File.Exists(path)) throw m.Error("from", $"no such topology file '{relative}' (looked for {Path.GetFullPath(path)})");
                machine = TopologyFiles.Import(path);
                break;
            default:
                var (file, root, inner) = includes.Load(m, m.Find("include")!, m.Field("include"), m.RequiredString("include"));
                if (root is not YamlMappingNode included)
                    throw new ScenarioException(file, root.Start.Line, root.Start.Column, "(root)", "an included machine is a mapping (preset, synthetic, from or include, and scale)");
                machine = ParseMapping(new YamlReader(file, included, ""), inner);
                break;
        }
        if (m.Integer("scale", 1, Machine.MaxCpus) is { } cpus)
        {
            try
            {
                machine = MachineScaling.Scale(machine, (int)cpus);
            }
            catch (TopologySpecException e)
            {
                throw m.Error("scale", e.Message);
            }
        }
        return machine;
    }

    private static Machine Synthetic(YamlReader r, string key, string spec)
    {
        try
        {
            return Presets.Resolve(spec);
        }
        catch (TopologySpecException e)
        {
            throw r.Error(key, $"{e.Message} (or use a preset: {string.Join(", ", Presets.All.Select(p => p.Name))})");
        }
    }
}
