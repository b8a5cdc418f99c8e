using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Orleans.Configuration;
using Orleans.Dashboard;
using Shootdown.Grains;

namespace Shootdown.Silo;

/// <summary>How every Shootdown silo is configured, whether embedded in the CLI, in tests or standalone.</summary>
public static class ShootdownSilo
{
    public const string ServiceId = "shootdown";

    /// <summary>The services the grains need, on any silo builder (tests use this with InProcessTestCluster).</summary>
    public static ISiloBuilder AddShootdown(this ISiloBuilder silo)
    {
        silo.Services.AddSingleton<SimulationCatalog>();
        // A run's partition grain and the entities it drives share a silo.
        silo.AddPlacementDirector<PartitionPlacement, PartitionPlacementDirector>();
        // Grain calls join their caller's trace (Microsoft.Orleans.Application spans); with no
        // listener, Orleans starts no activity and this costs nothing.
        silo.AddActivityPropagation();
        silo.Configure<MessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromMinutes(10));
        return silo;
    }

    /// <summary>
    /// A silo on loopback with localhost clustering. Silo 0 is the primary; the others join it.
    /// Ports are the caller's, so several embedded clusters never collide. With
    /// <paramref name="dashboard"/>, the host also serves the Orleans Dashboard on that web
    /// endpoint, at <see cref="DashboardPath"/>.
    /// </summary>
    public static IHost BuildLocalhostSilo(int index, int siloPort, int gatewayPort, int primarySiloPort, string clusterId,
        LogLevel logLevel = LogLevel.Warning, IPEndPoint? dashboard = null)
    {
        if (dashboard is null)
        {
            var builder = Host.CreateApplicationBuilder();
            Configure(builder, index, siloPort, gatewayPort, primarySiloPort, clusterId, logLevel, withDashboard: false);
            return builder.Build();
        }
        var web = WebApplication.CreateBuilder();
        Configure(web, index, siloPort, gatewayPort, primarySiloPort, clusterId, logLevel, withDashboard: true);
        web.WebHost.UseUrls($"http://{FormatHost(dashboard)}");
        var app = web.Build();
        app.MapOrleansDashboard(routePrefix: DashboardPath);
        return app;
    }

    /// <summary>Where the Orleans Dashboard is mounted on a silo's web endpoint.</summary>
    public const string DashboardPath = "/dashboard";

    private static void Configure(IHostApplicationBuilder builder, int index, int siloPort, int gatewayPort, int primarySiloPort, string clusterId,
        LogLevel logLevel, bool withDashboard)
    {
        builder.Logging.SetMinimumLevel(logLevel);
        // Results go to standard output; every log line goes to standard error.
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        // The watchdog measures wall-clock gaps; a long CPU-bound simulation window trips it harmlessly.
        builder.Logging.AddFilter("Orleans.Runtime.Watchdog", LogLevel.Error);
        // So does a partition routing a 65,536-CPU broadcast in one turn; its window is still one turn, as it must be.
        builder.Logging.AddFilter("Orleans.Runtime.Scheduler.WorkItemGroup", LogLevel.Error);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(siloPort, gatewayPort,
                index == 0 ? null : new IPEndPoint(IPAddress.Loopback, primarySiloPort), ServiceId, clusterId);
            silo.Configure<EndpointOptions>(o => o.AdvertisedIPAddress = IPAddress.Loopback);
            silo.AddShootdown();
            if (withDashboard) silo.AddDashboard();
        });
    }

    private static string FormatHost(IPEndPoint endpoint) =>
        endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{endpoint.Address}]:{endpoint.Port}" : endpoint.ToString();
}
