using System.CommandLine;
using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Shootdown.Silo;
using Shootdown.Telemetry.Export;

// A standalone silo on loopback. The silo whose port is the primary port hosts localhost
// membership; the others join it. Telemetry follows the standard OTEL_* variables.
var siloPort = PortArgument("silo-port", "This silo's port.", 11111);
var gatewayPort = PortArgument("gateway-port", "The port clients connect to.", 30000);
var primaryPort = PortArgument("primary-silo-port", "The primary silo's port (this silo's own port makes it the primary).", 11111);
var clusterId = new Argument<string>("cluster-id") { Description = "The cluster's id.", DefaultValueFactory = _ => "shootdown-dev" };
var dashboardPort = new Option<int?>("--dashboard-port")
{
    Description = $"Serve the Orleans Dashboard on this port, at {ShootdownSilo.DashboardPath}.",
};
dashboardPort.Validators.Add(r =>
{
    if (r.GetValueOrDefault<int?>() is { } p && p is < 1 or > 65535) r.AddError($"--dashboard-port must be a port number (1-65535), not {p}");
});
var dashboardHost = new Option<string>("--dashboard-host")
{
    Description = "The address the dashboard listens on; loopback unless you mean to expose it.",
    DefaultValueFactory = _ => "127.0.0.1",
};
dashboardHost.Validators.Add(r =>
{
    if (!IPAddress.TryParse(r.GetValueOrDefault<string>(), out _)) r.AddError($"--dashboard-host '{r.GetValueOrDefault<string>()}' is not an IP address");
});

var root = new RootCommand("shootdown-silo: one Shootdown silo, with localhost clustering.")
{
    siloPort, gatewayPort, primaryPort, clusterId, dashboardPort, dashboardHost,
};
root.SetAction(async (parse, cancellation) =>
{
    TelemetryOptions telemetry;
    try
    {
        telemetry = TelemetryOptions.FromEnvironment(Environment.GetEnvironmentVariable, "shootdown-silo");
    }
    catch (TelemetryConfigurationException e)
    {
        Console.Error.WriteLine($"shootdown-silo: {e.Message}");
        return 2;
    }
    using var pipeline = TelemetryPipeline.Start(telemetry);
    var (silo, primary) = (parse.GetValue(siloPort), parse.GetValue(primaryPort));
    var dashboard = parse.GetValue(dashboardPort) is { } port ? new IPEndPoint(IPAddress.Parse(parse.GetValue(dashboardHost)!), port) : null;
    using var host = ShootdownSilo.BuildLocalhostSilo(silo == primary ? 0 : 1, silo, parse.GetValue(gatewayPort), primary, parse.GetValue(clusterId)!,
        LogLevel.Information, dashboard);
    await host.StartAsync(cancellation);
    if (dashboard is not null) Console.Error.WriteLine($"shootdown-silo: Orleans Dashboard at http://{dashboard}{ShootdownSilo.DashboardPath}/");
    await host.WaitForShutdownAsync(cancellation);
    if (pipeline is not null) Console.Error.WriteLine($"shootdown-silo: {pipeline.Shutdown()}");
    return 0;
});

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    foreach (var error in parsed.Errors) Console.Error.WriteLine($"shootdown-silo: {error.Message}");
    return 2;
}
return await parsed.InvokeAsync();

static Argument<int> PortArgument(string name, string description, int fallback)
{
    var argument = new Argument<int>(name) { Description = description, DefaultValueFactory = _ => fallback };
    argument.Validators.Add(r =>
    {
        var v = r.GetValueOrDefault<int>();
        if (v is < 1 or > 65535) r.AddError($"{name.ToUpperInvariant()} must be a port number (1-65535), not {v}");
    });
    return argument;
}
