using System.CommandLine;
using Shootdown.Analysis.Reporting;
using Shootdown.Model.Topology;
using Shootdown.Scenarios.Topology;
using Shootdown.Scenarios;

namespace Shootdown.Cli;

/// <summary><c>shootdown topology show FILE|PRESET|SPEC [--scale N] [--full]</c>.</summary>
internal static class TopologyCommand
{
    public static Command Create()
    {
        var source = new Argument<string>("machine") { Description = "An hwloc XML file (lstopo --of xml), lscpu -p output (- for standard input), local (this host, from sysfs), a preset name or a synthetic spec." };
        var scale = new Option<int?>("--scale") { Description = "Replicate the machine's packages up to this many CPUs (see docs/scenarios.md, 'Real machines: topology import and scaling')." };
        var full = new Option<bool>("--full") { Description = "Print the whole distance matrix and every x2APIC cluster." };
        var show = new Command("show", "Summarise a machine: counts, NUMA nodes and their CPUs, distances, x2APIC clusters.") { source, scale, full };
        show.SetAction(parse =>
        {
            var reference = parse.GetValue(source)!;
            var machine = TopologyFiles.Resolve(reference);
            if (parse.GetValue(scale) is { } cpus)
            {
                try
                {
                    machine = MachineScaling.Scale(machine, cpus);
                }
                catch (TopologySpecException e)
                {
                    throw new ScenarioException(reference, 0, 0, "--scale", e.Message);
                }
            }
            Console.Out.Write(TopologySummary.Render(machine, parse.GetValue(full)));
            return 0;
        });
        return new Command("topology", "Inspect machines.") { show };
    }
}
