using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Shootdown.Client.Running;
using Shootdown.Hosting;

namespace Shootdown.Tests;

/// <summary>
/// The exporters as a user drives them from the CLI: the OTLP-JSON file, drop reporting, bad
/// settings, the real Aspire dashboard read back through its HTTP API, and the Orleans Dashboard.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class TelemetryExportTests
{
    private static List<JsonNode> Lines(string path) =>
        File.ReadLines(path).Select(l => JsonNode.Parse(l)!).ToList();

    private static IEnumerable<JsonNode> Spans(IEnumerable<JsonNode> requests) =>
        requests.SelectMany(r => r["resourceSpans"]!.AsArray()).SelectMany(rs => rs!["scopeSpans"]!.AsArray()).SelectMany(ss => ss!["spans"]!.AsArray())!;

    private static string? Attr(JsonNode span, string key) =>
        span["attributes"]!.AsArray().FirstOrDefault(a => (string?)a!["key"] == key)?["value"]?.AsObject().First().Value?.ToString();

    [Fact]
    public void FileExporterWritesOtlpJsonLinesWhoseMetricsMatchTheResults()
    {
        var dir = Sim.TempDir();
        var (exit, _, err) = Cli.Shootdown("run", Sim.ScenarioPath("small-64.yaml"), "--engine", "reference", "--out", dir, "--telemetry-file", "--trace-sample", "1");
        Assert.True(exit == 0, err);
        Assert.Matches(@"telemetry: [\d,]+ spans recorded, none dropped", err);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "results.json")))!;
        var spans = Spans(Lines(Path.Combine(dir, "traces.otlp.jsonl"))).ToList();
        var runId = (string)results["run_id"]!;
        var roots = spans.Where(s => s["parentSpanId"] is null && Attr(s, "shootdown.run_id") == runId && s["name"]!.ToString() != "shootdown.run").ToList();
        var ops = results["policies"]!.AsArray().Sum(p => p!["ops"]!.AsArray().Count);
        Assert.Equal(ops, roots.Count);
        // OTLP-JSON: hex ids, nanosecond strings on the virtual epoch (2000-01-01).
        var root = roots[0];
        Assert.Matches("^[0-9a-f]{32}$", (string)root["traceId"]!);
        Assert.Matches("^[0-9a-f]{16}$", (string)root["spanId"]!);
        Assert.StartsWith("9466848", (string)root["startTimeUnixNano"]!);

        // The kernel's spans (virtual time) are a service of their own, apart from the engine's (wall clock).
        static string Service(JsonNode resourceSpans) => resourceSpans["resource"]!["attributes"]!.AsArray()
            .First(a => (string?)a!["key"] == "service.name")!["value"]!["stringValue"]!.ToString();
        var services = Lines(Path.Combine(dir, "traces.otlp.jsonl")).SelectMany(r => r["resourceSpans"]!.AsArray())
            .SelectMany(rs => Spans([new JsonObject { ["resourceSpans"] = new JsonArray(rs!.DeepClone()) }]).Select(span => (Service: Service(rs!), Name: (string)span["name"]!)))
            .ToLookup(p => p.Name, p => p.Service);
        Assert.Equal(["shootdown.kernel"], services["collapse_huge_page"].Distinct());
        Assert.Equal(["shootdown"], services["shootdown.run"].Distinct());
        var metrics = Lines(Path.Combine(dir, "metrics.otlp.jsonl"))
            .SelectMany(r => r["resourceMetrics"]!.AsArray()).SelectMany(rm => rm!["scopeMetrics"]!.AsArray())
            .Where(sm => (string?)sm!["scope"]!["name"] == "Shootdown").SelectMany(sm => sm!["metrics"]!.AsArray()).ToList();
        long Sum(string name, string policy) => metrics.Where(m => (string?)m!["name"] == name).SelectMany(m => m!["sum"]!["dataPoints"]!.AsArray())
            .Where(p => p!["attributes"]!.AsArray().Any(a => (string?)a!["key"] == "policy" && a["value"]!["stringValue"]!.ToString() == policy))
            .Select(p => long.Parse((string)p!["asInt"]!)).DefaultIfEmpty().Max();
        foreach (var policy in results["policies"]!.AsArray())
        {
            var name = (string)policy!["policy"]!;
            Assert.Equal((long)policy["collateral_ipis"]!, Sum("shootdown.kernel.ipis.collateral", name));
            Assert.Equal((long)policy["total_interrupts"]!, Sum("shootdown.kernel.interrupts", name));
        }
        var latency = metrics.First(m => (string?)m!["name"] == "shootdown.kernel.initiator.latency")!;
        Assert.Equal(ops, latency["histogram"]!["dataPoints"]!.AsArray().Sum(p => long.Parse((string)p!["count"]!)));
        // Buckets that fit µs latencies, ten per decade from 1 µs to 100 ms: a dashboard's
        // percentile lies within a bucket about 26 % wide, not snapped to a 1-2-5 edge.
        var bounds = latency["histogram"]!["dataPoints"]![0]!["explicitBounds"]!.AsArray().Select(b => (double)b!).ToList();
        Assert.Equal((1.0, 100_000.0, 51), (bounds[0], bounds[^1], bounds.Count));
        Assert.All(bounds.Zip(bounds.Skip(1)), pair => Assert.InRange(pair.Second / pair.First, 1.2, 1.3));
        // No per-CPU dimension on any metric.
        Assert.DoesNotContain(metrics.SelectMany(m => (m!["sum"] ?? m["histogram"] ?? m["gauge"])!["dataPoints"]!.AsArray())
            .SelectMany(p => p!["attributes"]!.AsArray()), a => ((string)a!["key"]!).Contains("cpu"));
        Assert.Empty(Directory.GetFiles(dir, ".*partial"));
    }

    [Fact]
    public void DropsAtAFullExportQueueAreReported()
    {
        var dir = Sim.TempDir();
        var (exit, _, err) = Cli.DotnetWithEnvironment(new() { ["OTEL_BSP_MAX_QUEUE_SIZE"] = "8", ["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] = "8", ["OTEL_BSP_SCHEDULE_DELAY"] = "60000" },
            "run", Sim.ScenarioPath("small-64.yaml"), "--engine", "reference", "--out", dir, "--telemetry-file", "--trace-sample", "1");
        Assert.True(exit == 0, err);
        Assert.Matches(@"telemetry: [\d,]+ spans recorded, [1-9][\d,]* dropped at a full export queue", err);
    }

    [Theory]
    [InlineData("--trace-sample", "1.5", "--trace-sample: '1.5' is not a sampling ratio between 0 and 1")]
    [InlineData("--telemetry-file", null, "--telemetry-file writes into the --out directory")]
    [InlineData("--otlp-endpoint", "localhost:4317", "--otlp-endpoint 'localhost:4317' is not an http:// or https:// URL")]
    public void BadTelemetryFlagsAreNamedAndNothingRuns(string flag, string? value, string message)
    {
        string[] args = value is null ? [flag] : [flag, value];
        var (exit, stdout, err) = Cli.Shootdown(["run", Sim.ScenarioPath("small-64.yaml"), "--engine", "reference", .. args]);
        Assert.Equal(2, exit);
        Assert.Contains(message, err);
        Assert.DoesNotContain("   at ", err);
        Assert.Empty(stdout);
    }

    [Fact]
    public void BadOtelEnvironmentIsNamed()
    {
        var (exit, _, err) = Cli.DotnetWithEnvironment(new() { ["OTEL_TRACES_SAMPLER"] = "traceidratio", ["OTEL_TRACES_SAMPLER_ARG"] = "lots" },
            "run", Sim.ScenarioPath("small-64.yaml"), "--engine", "reference");
        Assert.Equal(2, exit);
        Assert.Contains("OTEL_TRACES_SAMPLER_ARG: 'lots' is not a sampling ratio between 0 and 1", err);
    }

    /// <summary>The real Aspire dashboard from its package, fed over OTLP by the CLI, read back through /api/telemetry.</summary>
    [Fact]
    public async Task AspireDashboardReceivesACollapseWithItsWholeBroadcast()
    {
        Assert.Null(AspireDashboard.Unavailable());
        var ports = EmbeddedCluster.FreePorts(3);
        var endpoints = new DashboardEndpoints(IPAddress.Loopback, ports[0], ports[1], ports[2]);
        await using var dashboard = await AspireDashboard.StartAsync(endpoints, cancellation: TestContext.Current.CancellationToken);
        var dir = Sim.TempDir();
        var (exit, _, err) = Cli.Shootdown("run", Sim.ScenarioPath("small-64.yaml"), "--out", dir, "--otlp-endpoint", endpoints.OtlpGrpc.ToString(), "--trace-sample", "0.5");
        Assert.True(exit == 0, err);
        Assert.Matches(@"telemetry: [\d,]+ spans recorded, none dropped", err);
        var runId = (string)JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "results.json")))!["run_id"]!;

        using var http = new HttpClient { BaseAddress = endpoints.Ui };
        var resources = JsonNode.Parse(await http.GetStringAsync("api/telemetry/resources", cancellationToken: TestContext.Current.CancellationToken))!.AsArray();
        Assert.Contains(resources, r => (string?)r!["name"] == "shootdown");
        Assert.Contains(resources, r => (string?)r!["name"] == "shootdown.kernel");
        var listing = JsonNode.Parse(await http.GetStringAsync("api/telemetry/traces?limit=10000", cancellationToken: TestContext.Current.CancellationToken))!;
        var collapses = Spans([listing["data"]!]).Where(s => (string?)s["name"] == "collapse_huge_page" && s["parentSpanId"] is null
            && Attr(s, "shootdown.run_id") == runId && Attr(s, "kernel.policy") == "baseline").ToList();
        Assert.NotEmpty(collapses);
        var collapse = collapses[0];
        var trace = JsonNode.Parse(await http.GetStringAsync($"api/telemetry/traces/{collapse["traceId"]}", cancellationToken: TestContext.Current.CancellationToken))!;
        var spans = Spans([trace["data"]!]).ToList();
        var sync = spans.Single(s => (string?)s["name"] == "smp_call_function_many_cond");
        var targets = spans.Where(s => (string?)s["parentSpanId"] == (string?)sync["spanId"]).Select(s => Attr(s, "cpu")).ToList();
        Assert.Equal(63, targets.Distinct().Count());
        Assert.Equal(int.Parse(Attr(sync, "kernel.targets")!), targets.Count);
        // The engine's side arrived too: window spans and the Orleans grain calls they made.
        var all = Spans([listing["data"]!]).ToList();
        Assert.Contains(all, s => (string?)s["name"] == "engine.window");
        Assert.Contains(all, s => ((string?)s["name"])?.StartsWith("ISimEntityGrain/") == true);
    }

    [Fact]
    public async Task OrleansDashboardIsServedOnTheSiloWebEndpoint()
    {
        var ports = EmbeddedCluster.FreePorts(3);
        using var host = ShootdownSilo.BuildSilo(SiloSettings.Loopback($"dash-{Guid.NewGuid():N}", ports[0], ports[1], ports[0],
            new IPEndPoint(IPAddress.Loopback, ports[2])));
        await host.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ports[2]}{ShootdownSilo.DashboardPath}/") };
            var page = await http.GetAsync("", cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains("text/html", page.Content.Headers.ContentType?.MediaType);
        }
        finally
        {
            await host.StopAsync(cancellationToken: TestContext.Current.CancellationToken);
        }
    }
}
