using System.CommandLine;
using Shootdown.Client.Running;
using Shootdown.Scenarios;

namespace Shootdown.Cli;

/// <summary><c>shootdown validate SCENARIO</c>: parse and check a scenario (every sweep point, every include and topology file) without running it.</summary>
internal static class ValidateCommand
{
    public static Command Create()
    {
        var scenario = new Argument<string>("scenario") { Description = "A scenario YAML file, or - for standard input." };
        var command = new Command("validate", "Check a scenario file without running it, and estimate each run's events and memory; errors name file, line, column and field.") { scenario };
        command.SetAction(parse =>
        {
            var file = ScenarioLoader.Load(parse.GetValue(scenario)!);
            foreach (var point in file.Points)
            {
                var s = point.Scenario;
                var where = file.IsSweep ? $" [{file.Settings(point.Values)}]" : "";
                var estimate = RunEstimate.Of(s);
                Console.Out.WriteLine($"ok: {s.Name}{where}: {s.Machine.CpuCount} CPUs ({s.Machine.Name}), {s.Workload.Processes.Length} processes, " +
                                      $"{s.Workload.Operations.Length} operation streams, {s.DurationNs / 1000.0:0.###} µs, policies {string.Join(", ", s.Policies.Select(p => p.Name))}; " +
                                      estimate.Describe());
                if (estimate.Admit(Admission.AvailableBytes) is { } refusal)
                {
                    // Valid, but a run of it would be refused here: said as run would say it, and the check fails.
                    Console.Error.WriteLine($"shootdown: {file.Path}{where}: {refusal}");
                    return 1;
                }
            }
            return 0;
        });
        return command;
    }
}
