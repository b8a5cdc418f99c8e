#:project ../src/Client/Shootdown.Client.csproj
#:property PublishAot=false
// A custom mixed workload built in code on a real machine's topology: the 2 x Xeon 6140 box
// from hwloc's test suite scaled to 1152 CPUs, a migrating database with munmap-style range
// flushes, khugepaged collapsing its memory, forked children that share its hugetlb PMD
// tables and exit one by one, and isolated real-time CPUs. Runs on the embedded silo, prints
// the headline per policy and writes the result files.
//
//   dotnet run -c Release scripts/mixed-workload.cs [-- OUT_DIR]
using Shootdown.Analysis.Reporting;
using Shootdown.Client.Api;
using Shootdown.Scenarios;

var topology = Path.Combine(AppContext.GetData("EntryPointFileDirectoryPath") as string ?? ".", "..", "topologies", "hwloc", "Intel-Skylake-2xXeon6140.xml");
var builder = ScenarioBuilder.OnTopologyFile(topology, scaleToCpus: 1152, name: "mixed-1152")
    .Description("collapse + range flushes + hugetlb unshares on a scaled Skylake topology")
    .Seed(2026)
    .DurationUs(10_000)
    .RealtimeCpus("1088-1151")
    .OsnoisePeriodUs(1_000)
    .Process("db", cpus: "0-287", threads: 256, runUs: 300, sleepUs: 60, migrateUs: 2_000)
    .Process("rt", cpus: "1088-1151")
    .Collapse("db", cpu: 300, ratePerSecond: 2_000)
    .FlushRange("db", cpu: 5, pages: 16, ratePerSecond: 20_000)
    .IrqsOff("0-287", periodUs: 25, durationUs: 1);
for (var child = 0; child < 8; child++)
{
    builder.Process($"child{child}", cpus: $"{400 + 4 * child}-{403 + 4 * child}", threads: 2)
        .HugetlbUnshare($"child{child}", cpu: 400 + 4 * child, atUs: 1_000 + 1_000 * child);
}
builder.HugetlbShare("sga", ["db", .. Enumerable.Range(0, 8).Select(c => $"child{c}")]);

var scenario = builder.Build();
await using var simulator = await Simulator.StartEmbeddedAsync();
var comparison = await simulator.RunAsync(scenario);

Console.WriteLine($"{scenario.Name}: {scenario.Machine.CpuCount} CPUs, {scenario.Machine.PackageCount} packages, {scenario.Machine.NodeCount} NUMA nodes");
foreach (var run in comparison.Runs)
{
    var r = run.Result;
    Console.WriteLine($"{r.Policy,-9} csds {r.CsdsQueued,8:N0}  collateral {r.CollateralIpis,8:N0}  RT interrupts {r.Realtime.Interrupts,6:N0}  " +
                      string.Join("  ", r.ByType.Select(s => $"{Headline.OperationName(s.Type)} {Headline.Tail(s)}")));
}
Console.WriteLine(Headline.For(comparison));
if (args.Length > 0)
{
    Simulator.WriteResults(args[0], comparison);
    Console.WriteLine($"wrote {args[0]}");
}
