using System.CommandLine;
using Shootdown.Model.Topology;
using Spectre.Console;
using Shootdown.Model.Costs;

namespace Shootdown.Cli;

/// <summary><c>shootdown presets</c>: the built-in machines and their synthetic specs.</summary>
internal static class PresetsCommand
{
    public static Command Create()
    {
        var command = new Command("presets", "List the built-in machines.");
        command.SetAction(_ =>
        {
            var table = new Table().Border(TableBorder.Rounded).AddColumns("preset", "CPUs", "packages", "NUMA nodes", "x2APIC clusters", "spec", "description");
            foreach (var p in Presets.All)
            {
                var m = SyntheticSpec.Parse(p.Spec, p.Name);
                table.AddRow(p.Name, m.CpuCount.ToString(), m.PackageCount.ToString(), m.NodeCount.ToString(), m.ClusterCount.ToString(), Markup.Escape(p.Spec), Markup.Escape(p.Description));
            }
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }
}
