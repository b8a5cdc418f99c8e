using System.Diagnostics;
using System.Text.Json;
using Shootdown.Client.Running;

namespace Shootdown.Tests;

/// <summary>
/// The Orleans Dashboard on a standalone silo, as docs/telemetry.md runs it, read through the
/// JSON its page draws: a run's calls are in its history though nobody had the page open during
/// the run, and while a run is in flight the page lists its grains, one CpuGrain per simulated CPU.
/// </summary>
public sealed class OrleansDashboardTests
{
    [Fact]
    public async Task TheDashboardShowsARunsCallsAfterItAndItsGrainsWhileItRuns()
    {
        var ports = EmbeddedCluster.FreePorts(3);
        var clusterId = $"dash-{Guid.NewGuid():N}"[..20];
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "shootdown-silo.dll"), "--cluster-id", clusterId,
            "--silo-port", $"{ports[0]}", "--primary-silo-port", $"{ports[0]}", "--gateway-port", $"{ports[1]}", "--dashboard-port", $"{ports[2]}"])
        { RedirectStandardError = true };
        using var silo = Process.Start(psi)!;
        try
        {
            Assert.Contains("joined cluster", await silo.StandardError.ReadLineAsync(cancellationToken: TestContext.Current.CancellationToken));
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ports[2]}/dashboard/") };
            string[] gateway = ["--gateway", $"127.0.0.1:{ports[1]}", "--cluster-id", clusterId];

            // Nobody looks during the first run; afterwards the grain methods it called are listed.
            var first = Cli.Shootdown(["run", Sim.ScenarioPath("small-64.yaml"), .. gateway]);
            Assert.True(first.Exit == 0, first.Err);
            using (var top = JsonDocument.Parse(await http.GetStringAsync("TopGrainMethods", cancellationToken: TestContext.Current.CancellationToken)))
                Assert.Contains(top.RootElement.GetProperty("calls").EnumerateArray(),
                    c => c.GetProperty("grain").GetString() == "Shootdown.Grains.CpuGrain" && c.GetProperty("method").GetString() == "RunWindow");

            // During the second, the counters (refreshed once a second) list the run's grains: the
            // main scenario's first 40 ms keep its 4,096 CPU grains active for seconds.
            var second = Task.Run(() => Cli.Shootdown(["run", Sim.ScenarioPath("khugepaged-4096.yaml"), "--duration", "40ms", .. gateway]));
            var cpuGrains = 0;
            while (!second.IsCompleted)
            {
                using var counters = JsonDocument.Parse(await http.GetStringAsync("DashboardCounters", cancellationToken: TestContext.Current.CancellationToken));
                foreach (var stat in counters.RootElement.GetProperty("simpleGrainStats").EnumerateArray())
                    if (stat.GetProperty("grainType").GetString() == "Shootdown.Grains.CpuGrain")
                        cpuGrains = Math.Max(cpuGrains, stat.GetProperty("activationCount").GetInt32());
                await Task.Delay(250, cancellationToken: TestContext.Current.CancellationToken);
            }
            var (exit, _, stderr) = await second;
            Assert.True(exit == 0, stderr);
            Assert.Equal(4096, cpuGrains);
        }
        finally
        {
            silo.Kill(entireProcessTree: true);
            await silo.WaitForExitAsync(cancellationToken: TestContext.Current.CancellationToken);
        }
    }
}
