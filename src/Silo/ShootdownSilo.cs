using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Orleans.Configuration;
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
        silo.Configure<MessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromMinutes(10));
        return silo;
    }

    /// <summary>
    /// A silo on loopback with localhost clustering. Silo 0 is the primary; the others join it.
    /// Ports are the caller's, so several embedded clusters never collide.
    /// </summary>
    public static IHost BuildLocalhostSilo(int index, int siloPort, int gatewayPort, int primarySiloPort, string clusterId, LogLevel logLevel = LogLevel.Warning)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(logLevel);
        // Results go to standard output; every log line goes to standard error.
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        // The watchdog measures wall-clock gaps; a long CPU-bound simulation window trips it harmlessly.
        builder.Logging.AddFilter("Orleans.Runtime.Watchdog", LogLevel.Error);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(siloPort, gatewayPort,
                index == 0 ? null : new IPEndPoint(IPAddress.Loopback, primarySiloPort), ServiceId, clusterId);
            silo.Configure<EndpointOptions>(o => o.AdvertisedIPAddress = IPAddress.Loopback);
            silo.AddShootdown();
        });
        return builder.Build();
    }
}
