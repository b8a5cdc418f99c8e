using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Shootdown.Silo;

namespace Shootdown.Client.Running;

/// <summary>An Orleans client connected to a running Shootdown cluster through its gateways.</summary>
public sealed class ClusterConnection : IAsyncDisposable
{
    /// <summary>How many times to try the gateways, a second apart, before giving up.</summary>
    public const int ConnectAttempts = 5;

    private readonly IHost _host;

    private ClusterConnection(IHost host) => _host = host;

    public IClusterClient Client => _host.Services.GetRequiredService<IClusterClient>();

    /// <summary>Connects with static clustering to the given gateways of the cluster <paramref name="clusterId"/>.</summary>
    public static async Task<ClusterConnection> ConnectAsync(IReadOnlyList<IPEndPoint> gateways, string clusterId, CancellationToken cancellation = default)
    {
        var builder = Host.CreateApplicationBuilder();
        // The CLI reports a failed connection in one line of its own; Orleans' retries would print stack traces.
        builder.Logging.ClearProviders();
        var attempts = 0;
        builder.UseOrleansClient(client =>
        {
            client.UseStaticClustering(gateways.ToArray());
            // Grain calls carry the caller's trace context, so they join the run's spans.
            client.AddActivityPropagation();
            client.Configure<ClusterOptions>(o =>
            {
                o.ServiceId = ShootdownSilo.ServiceId;
                o.ClusterId = clusterId;
            });
            client.Configure<MessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromMinutes(10));
            // The client would otherwise retry the first connection with growing back-off for ever.
            client.UseConnectionRetryFilter(async (_, ct) =>
            {
                if (++attempts >= ConnectAttempts) return false;
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
                return true;
            });
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellation);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return new ClusterConnection(host);
    }

    /// <summary>Parses <c>HOST:PORT</c>; throws <see cref="FormatException"/> with the reason.</summary>
    public static IPEndPoint ParseGateway(string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text[(colon + 1)..], out var port) || port is < 1 or > 65535)
            throw new FormatException($"gateway '{text}' is not HOST:PORT with a port from 1 to 65535");
        var host = text[..colon];
        if (IPAddress.TryParse(host, out var address)) return new IPEndPoint(address, port);
        if (host == "localhost") return new IPEndPoint(IPAddress.Loopback, port);
        throw new FormatException($"gateway '{text}': give an IP address (or localhost), not '{host}'");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            _host.Dispose();
        }
    }
}
