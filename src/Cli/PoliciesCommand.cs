using System.CommandLine;
using Shootdown.Analysis.Reporting;
using Shootdown.Model.Kernel;
using Spectre.Console;

namespace Shootdown.Cli;

/// <summary><c>shootdown policies</c>: the built-in kernel policies, and the decisions each one makes.</summary>
internal static class PoliciesCommand
{
    public static Command Create()
    {
        var command = new Command("policies", "List the built-in kernel policies (the series and the what-ifs).");
        command.SetAction(_ =>
        {
            var table = new Table().Border(TableBorder.Rounded).AddColumns("policy", "sync skipped", "sync targets", "wake_lazy_cpus on unshare", "description");
            foreach (var p in KernelPolicy.BuiltIn)
                table.AddRow(p.Name, UserNames.Of(p.SyncSkip), UserNames.Of(p.SyncScope), p.TlbFlushWakesLazyCpusForUnsharedTables ? "yes" : "no", Markup.Escape(p.Description));
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }
}
