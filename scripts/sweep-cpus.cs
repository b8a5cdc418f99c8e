#:project ../src/Client/Shootdown.Client.csproj
#:property PublishAot=false
// A sweep over machine sizes, in code: khugepaged collapsing one 128-thread process's memory
// on 512 to 8192 CPUs (hwloc synthetic 'pack:N core:64 pu:2' machines), baseline against the
// patched kernel, on the embedded silo. Prints one table row per size.
//
//   dotnet run -c Release scripts/sweep-cpus.cs [-- --reference]
using Shootdown.Analysis.Reporting;
using Shootdown.Client.Api;
using Shootdown.Scenarios;
using Spectre.Console;

var scenarios = new[] { 512, 1024, 2048, 4096, 8192 }.Select(cpus =>
    ScenarioBuilder.On($"pack:{cpus / 128} numa:1 core:64 pu:2", $"collapse-{cpus}")
        .Seed(42)
        .DurationUs(20_000)
        .RealtimeCpus($"{cpus - 64}-{cpus - 1}")
        .Process("db", cpus: "0-127", threads: 128, runUs: 400, sleepUs: 100)
        .Process("rt", cpus: $"{cpus - 64}-{cpus - 1}")
        .Collapse("db", cpu: 128, ratePerSecond: 1000)
        .Build()).ToList();

// Into a pipe or a file the table keeps its full width (and no colours).
TerminalOutput.Configure();
await using var simulator = args.Contains("--reference") ? Simulator.Reference() : await Simulator.StartEmbeddedAsync();
var results = await simulator.RunAllAsync(scenarios);

var table = new Table().Border(TableBorder.Rounded)
    .AddColumns("CPUs", "csds base", "csds patched", "collateral", "tail base", "tail patched", "RT irqs b/p");
foreach (var c in results)
{
    var (baseline, patched) = (c.Runs[0].Result, c.Runs[1].Result);
    // p99 where the operations support one (100 or more), else the max with n.
    var p99 = (Shootdown.Model.Results.PolicyResult r) => Headline.Tail(r.ByType[0]);
    table.AddRow(c.Scenario.Machine.CpuCount.ToString("N0"), baseline.CsdsQueued.ToString("N0"), patched.CsdsQueued.ToString("N0"),
        baseline.CollateralIpis.ToString("N0"), p99(baseline), p99(patched), $"{baseline.Realtime.Interrupts:N0} / {patched.Realtime.Interrupts:N0}");
}
AnsiConsole.Write(table);
