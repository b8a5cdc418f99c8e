using Shootdown.Model.Topology;

namespace Shootdown.Model.Costs;

/// <summary>
/// Built-in machines. Each is a synthetic spec, so <c>shootdown</c> users can start from one and edit
/// it, with how it sends IPIs and whose core-to-core latencies price it: a topology and its costs.
/// </summary>
public static class Presets
{
    /// <param name="Apic">How the machine sends IPIs, when it is not the x2APIC cluster default.</param>
    /// <param name="CoreToCore">Whose core-to-core latencies price its cache-line transfers, when not the default Ice Lake's.</param>
    public sealed record Preset(string Name, string Spec, string Description, ApicMode? Apic = null, CoreToCoreTable? CoreToCore = null);

    public static readonly IReadOnlyList<Preset> All =
    [
        new("2s-256", "pack:2 numa:1 core:64 pu:2", "2-socket 256-CPU server (2 x 64 cores, SMT2)"),
        new("8s-448", "group:2 pack:4 numa:1 core:28 pu:2", "8-socket 448-CPU server (8 x 28 cores, SMT2; two 4-socket halves)",
            CoreToCore: CoreToCoreTable.XeonCascadeLake),
        new("uv-4096", "group:8 group:4 pack:8 numa:1 core:8 pu:2", "4096-CPU UV-class machine: 256 sockets, 256 NUMA nodes, three interconnect levels",
            ApicMode.Uv, CoreToCoreTable.XeonCascadeLake),
        new("maxsmp-8192", "group:4 group:4 pack:4 numa:1 core:64 pu:2", "8192-CPU machine (NR_CPUS with MAXSMP): 64 sockets x 64 cores, SMT2"),
        new("small-64", "pack:2 numa:2 core:16 pu:2", "64-CPU 2-socket test machine with sub-NUMA clustering"),
    ];

    public static Preset? Find(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>A preset name, or else a synthetic spec.</summary>
    public static Machine Resolve(string presetOrSpec)
    {
        var preset = Find(presetOrSpec);
        return preset is null ? SyntheticSpec.Parse(presetOrSpec) : SyntheticSpec.Parse(preset.Spec, preset.Name);
    }
}
