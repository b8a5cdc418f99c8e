using System.CommandLine;
using Shootdown.Analysis.KernelTrace;
using Shootdown.Analysis.Reporting;
using Shootdown.Analysis.Runs;
using Shootdown.Client.Running;
using Spectre.Console;

namespace Shootdown.Cli;

/// <summary>
/// <c>shootdown replay TRACE</c>: rebuild the flush and sync operations of an ftrace capture and
/// run them under each policy, on the traced machine's size or on any other (<c>--machine</c>).
/// </summary>
internal static class ReplayCommand
{
    public static Command Create()
    {
        var trace = new Argument<string>("trace")
        {
            Description = "An ftrace text trace (the trace file, trace-cmd report, or function_graph with funcgraph-abstime) with tlb:tlb_flush and " +
                          "csd:csd_queue_cpu events, or ipi:ipi_send_cpumask and ipi:ipi_send_cpu alone; - for standard input.",
        };
        var cpumaskFormat = new Option<string>("--cpumask-format")
        {
            Description = "How ipi_send_cpumask prints masks: hex (the trace file), list (trace-cmd report), or auto (from the file's header).",
            DefaultValueFactory = _ => "auto",
        };
        cpumaskFormat.AcceptOnlyFromAmong("auto", "hex", "list");
        var machine = new Option<string?>("--machine") { Description = "A preset, hwloc synthetic spec or topology file (default: a flat machine of the traced size)." };
        var policies = new Option<string[]>("--policies")
        {
            Description = "Policies to compare (shootdown policies).", DefaultValueFactory = _ => ["baseline", "patched"], AllowMultipleArgumentsPerToken = true,
        };
        var engine = new Option<string>("--engine") { Description = "grains, reference or parallel.", DefaultValueFactory = _ => "grains" };
        engine.AcceptOnlyFromAmong(EngineNames.All);
        var emit = new Option<string?>("--emit-scenario") { Description = "Also write the rebuilt scenario as YAML to this file." };
        var json = new Option<bool>("--json") { Description = "Print results.json instead of the table." };
        var output = new OutputFlags();
        var command = new Command("replay", "Replay a captured trace's flushes and syncs on a modelled machine, per policy.") { trace, cpumaskFormat, machine, policies, engine, emit, json };
        foreach (var option in output.All) command.Options.Add(option);
        command.SetAction(async (parse, cancellation) =>
        {
            if (output.Problem(parse) is { } problem)
            {
                Console.Error.WriteLine($"shootdown: {problem}");
                return 2;
            }
            var format = parse.GetValue(cpumaskFormat) switch { "hex" => CpumaskFormat.Hex, "list" => CpumaskFormat.List, _ => CpumaskFormat.Auto };
            var captured = FtraceReplay.Read(parse.GetValue(trace)!, format);
            var scenario = FtraceReplay.ToScenario(captured, parse.GetValue(machine), parse.GetValue(policies)!);
            if (parse.GetValue(emit) is { } yamlPath)
            {
                var yamlDir = Path.GetDirectoryName(Path.GetFullPath(yamlPath))!;
                if (ResultFiles.CannotWriteInto(yamlDir) is { } why)
                {
                    Console.Error.WriteLine($"shootdown: --emit-scenario {yamlPath}: {why}");
                    return 2;
                }
                ResultFiles.WriteAll(yamlDir, [(Path.GetFileName(yamlPath), FtraceReplay.ToYaml(captured, parse.GetValue(machine), parse.GetValue(policies)!))]);
            }
            var kind = EngineNames.Parse(parse.GetValue(engine)!);
            var comparison = (await ShootdownRunner.RunAllAsync([scenario], kind, 1, null, cancellation: cancellation))[0];
            var result = ReplicateSet.Of(comparison);
            var provenance = Provenance.OfThisProcess([]);
            output.Write(parse, result, provenance);
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(ResultFiles.ToJson(result, provenance));
                return 0;
            }
            Console.Out.WriteLine($"{captured.File}: {captured.Ops.Length:N0} operations on {captured.HighestCpu + 1} CPUs " +
                                  $"({string.Join(", ", captured.Ops.GroupBy(o => o.Type).Select(g => $"{g.Count():N0} {Model.Workload.OpTypeNames.Scenario.NameOf(g.Key)}"))})" +
                                  (captured.OrphanEvents > 0 ? $"; {captured.OrphanEvents:N0} event(s) of operations begun before the trace skipped" : ""));
            if (captured.FromIpiEvents)
                Console.Out.WriteLine("  rebuilt from ipi_send events: each flush reaches the CPUs its IPI did (not those whose queue was already busy)" +
                                      (captured.ByCallsiteOnly > 0 ? $"; {captured.ByCallsiteOnly:N0} IPI(s) told apart by callsite alone" : ""));
            if (!captured.Background.IsEmpty)
                Console.Out.WriteLine($"  background, not replayed: {string.Join(", ", captured.Background.Select(b => $"{b.Ipis:N0} {b.Caller}"))}");
            if (captured.EmptyMasks > 0) Console.Out.WriteLine($"  {captured.EmptyMasks:N0} IPI event(s) with an empty mask skipped");
            ComparisonTable.Write(AnsiConsole.Console, result);
            return 0;
        });
        return command;
    }
}
