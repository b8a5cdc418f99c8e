using System.CommandLine;
using System.Globalization;
using Shootdown.Analysis.KernelTrace;
using Shootdown.Analysis.Reporting;
using Shootdown.Model.Tracing;
using Shootdown.Scenarios;

namespace Shootdown.Cli;

/// <summary>
/// <c>shootdown trace SCENARIO --out DIR</c>: the run's tracepoints as ftrace text (tlb_flush,
/// ipi_send_cpumask, csd_queue_cpu, csd_function_entry/exit) and /proc/interrupts at both edges
/// of the traced window, per policy (docs/outputs.md).
/// </summary>
internal static class TraceCommand
{
    public static Command Create()
    {
        var scenario = new Argument<string>("scenario") { Description = "A scenario YAML file (not a sweep), or - for standard input." };
        var outDir = new Option<string>("--out") { Description = "Directory for ftrace-POLICY.txt and interrupts-POLICY-{start,end}.txt.", Required = true };
        var from = new Option<double>("--from-us") { Description = "Start of the traced window, in virtual µs.", DefaultValueFactory = _ => 0 };
        var to = new Option<double?>("--to-us") { Description = "End of the traced window, in virtual µs (default: the end of the run)." };
        var command = new Command("trace", "Export a run's tracepoints as ftrace text, with /proc/interrupts snapshots.") { scenario, outDir, from, to };
        command.SetAction(parse =>
        {
            var file = ScenarioLoader.Load(parse.GetValue(scenario)!);
            if (file.IsSweep)
            {
                Console.Error.WriteLine("shootdown: trace takes a scenario without a sweep");
                return 2;
            }
            var dir = parse.GetValue(outDir)!;
            if (ResultFiles.CannotWriteInto(dir) is { } why)
            {
                Console.Error.WriteLine($"shootdown: --out {dir}: {why}");
                return 2;
            }
            var fromUs = parse.GetValue(from);
            var toUs = parse.GetValue(to);
            if (fromUs < 0 || toUs is { } t && t <= fromUs || !double.IsFinite(fromUs))
            {
                Console.Error.WriteLine("shootdown: --from-us and --to-us must give 0 <= from < to");
                return 2;
            }
            var durationUs = file.Points[0].Scenario.DurationNs / 1000.0;
            if (fromUs >= durationUs)
            {
                Console.Error.WriteLine($"shootdown: --from-us {fromUs.ToString(CultureInfo.InvariantCulture)} is at or past the run's end ({durationUs.ToString(CultureInfo.InvariantCulture)} µs): the window would be empty");
                return 2;
            }
            var window = new FtraceWindow((long)Math.Round(fromUs * 1000), toUs is { } end ? (long)Math.Round(end * 1000) : long.MaxValue);
            var (files, _) = FtraceExport.Render(file.Points[0].Scenario, window);
            ResultFiles.WriteAll(dir, files);
            foreach (var (name, content) in files)
                Console.Out.WriteLine($"{Path.Combine(dir, name)}: {content.Count(c => c == '\n'):N0} lines");
            return 0;
        });
        return command;
    }
}
