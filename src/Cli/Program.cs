using System.CommandLine;
using Shootdown.Analysis.Reporting;
using Shootdown.Cli;
using Shootdown.Client.Running;
using Shootdown.Scenarios;
using Shootdown.Hosting;
using Shootdown.Telemetry.Export;

var root = new RootCommand("Shootdown: simulate TLB-shootdown and page-table-sync IPIs on very large SMP Linux machines.")
{
    RunCommand.Create(),
    BenchCommand.Create(),
    PresetsCommand.Create(),
    PoliciesCommand.Create(),
    TopologyCommand.Create(),
    ValidateCommand.Create(),
    CalibrateCommand.Create(),
    TraceCommand.Create(),
    ReplayCommand.Create(),
    DashboardCommand.Create(),
};
root.Options.Add(ConsoleOutput.PlainOption);

// Bare `shootdown` is a person asking what it does: the help, as --help prints it.
var parse = root.Parse(args.Length == 0 ? ["--help"] : args);
if (parse.Errors.Count > 0)
{
    Console.Error.WriteLine($"shootdown: {TerminalText.Escape(ParseErrors.Describe(parse))}");
    return 2;
}
TerminalOutput.Configure(parse.GetValue(ConsoleOutput.PlainOption));
try
{
    return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (ScenarioException e)
{
    // Bad input: one line naming file, line, column and field; nothing written. The message may
    // echo the bad value, so its control characters are shown, not sent to the terminal.
    Console.Error.WriteLine($"shootdown: {TerminalText.Escape(e.Message)}");
    return 2;
}
catch (TelemetryConfigurationException e)
{
    // A bad telemetry flag or OTEL_* variable, named in the message; nothing was run.
    Console.Error.WriteLine($"shootdown: {TerminalText.Escape(e.Message)}");
    return 2;
}
catch (Exception e) when (ClusterFaults.OneLine(e) is { } line)
{
    Console.Error.WriteLine($"shootdown: {TerminalText.Escape(line)}");
    return 1;
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("shootdown: cancelled");
    return 130;
}
