using System.CommandLine;
using Shootdown.Client.Reporting;
using Shootdown.Client.Running;
using Shootdown.Scenarios;
using Spectre.Console;

namespace Shootdown.Client.Cli;

/// <summary><c>shootdown run SCENARIO [--engine grains|reference] [--silos N] [--json] [--out DIR]</c>.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var scenario = new Argument<string>("scenario") { Description = "A scenario YAML file (see scenarios/)." };
        var engine = new Option<string>("--engine") { Description = "grains (every CPU and mm a grain) or reference (the sequential oracle).", DefaultValueFactory = _ => "grains" };
        engine.AcceptOnlyFromAmong("grains", "reference");
        var silos = new Option<int>("--silos") { Description = "Embedded silos to start in this process (1-16).", DefaultValueFactory = _ => 1 };
        silos.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<int>();
            if (v is < 1 or > 16) r.AddError($"--silos must be between 1 and 16, not {v}");
        });
        var json = new Option<bool>("--json") { Description = "Print results.json to standard output instead of the table." };
        var outDir = new Option<string?>("--out") { Description = "Write results.json (atomically) into this directory." };
        var gateways = new Option<string[]>("--gateway")
        {
            Description = "Run on a running cluster through this gateway (HOST:PORT; repeatable) instead of an embedded silo.",
            AllowMultipleArgumentsPerToken = false,
        };
        gateways.Validators.Add(r =>
        {
            foreach (var g in r.GetValueOrDefault<string[]>() ?? [])
            {
                try
                {
                    ClusterConnection.ParseGateway(g);
                }
                catch (FormatException e)
                {
                    r.AddError(e.Message);
                }
            }
        });
        var clusterId = new Option<string>("--cluster-id") { Description = "The running cluster's id (with --gateway).", DefaultValueFactory = _ => "shootdown-dev" };

        var command = new Command("run", "Run a scenario under each of its policies and compare them.") { scenario, engine, silos, json, outDir, gateways, clusterId };
        command.SetAction(async (parse, cancellation) =>
        {
            var s = ScenarioLoader.LoadFile(parse.GetValue(scenario)!);
            if (parse.GetValue(outDir) is { } target && ResultFiles.CannotWriteInto(target) is { } why)
            {
                // Checked before a possibly long run, so a bad --out costs nothing and writes nothing.
                Console.Error.WriteLine($"shootdown: --out {target}: {why}");
                return 2;
            }
            var kind = parse.GetValue(engine) == "reference" ? EngineKind.Reference : EngineKind.Grains;
            var asJson = parse.GetValue(json);
            var endpoints = (parse.GetValue(gateways) ?? []).Select(ClusterConnection.ParseGateway).ToList();
            if (endpoints.Count > 0 && kind == EngineKind.Reference)
            {
                Console.Error.WriteLine("shootdown: --gateway runs the grain engine on a cluster; it cannot go with --engine reference");
                return 2;
            }
            await using var connection = endpoints.Count == 0 ? null : await Connect(endpoints, parse.GetValue(clusterId)!, cancellation);
            if (endpoints.Count > 0 && connection is null) return 1;
            var showProgress = !asJson && !Console.IsOutputRedirected;
            var comparison = await RunWithProgress(s, kind, parse.GetValue(silos), connection?.Client, showProgress, cancellation);
            var text = ResultFiles.ToJson(comparison);
            if (parse.GetValue(outDir) is { } dir) ResultFiles.WriteAtomically(Path.Combine(dir, "results.json"), text);
            if (asJson) Console.Out.WriteLine(text);
            else ComparisonTable.Write(AnsiConsole.Console, comparison);
            return 0;
        });
        return command;
    }

    private static async Task<ClusterConnection?> Connect(List<System.Net.IPEndPoint> endpoints, string clusterId, CancellationToken cancellation)
    {
        try
        {
            return await ClusterConnection.ConnectAsync(endpoints, clusterId, cancellation);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Console.Error.WriteLine($"shootdown: cannot connect to cluster '{clusterId}' at {string.Join(", ", endpoints)}: {e.Message.Split('\n')[0]}");
            return null;
        }
    }

    private static async Task<Comparison> RunWithProgress(Scenario s, EngineKind kind, int silos, IGrainFactory? grains, bool showProgress, CancellationToken cancellation)
    {
        if (!showProgress) return await ShootdownRunner.RunAsync(s, kind, silos, grains, cancellation: cancellation);
        Comparison? result = null;
        await AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var tasks = s.Policies.ToDictionary(p => p.Name, p => ctx.AddTask($"{p.Name}: virtual time", maxValue: s.DurationNs));
                var progress = new InlineProgress<RunProgressInfo>(p =>
                {
                    var task = tasks[p.Policy];
                    task.Value = p.Done ? task.MaxValue : Math.Min(p.VirtualTimeNs, s.DurationNs);
                });
                result = await ShootdownRunner.RunAsync(s, kind, silos, grains, progress, cancellation);
            });
        return result!;
    }

    /// <summary>Reports on the caller's thread (Spectre's progress tasks are thread-safe), so the bar is current when the run returns.</summary>
    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
