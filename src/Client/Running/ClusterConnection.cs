using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Hosting;
using Shootdown.Hosting;

namespace Shootdown.Client.Running;

/// <summary>An Orleans client connected to a running Shootdown cluster through its gateways.</summary>
public sealed class ClusterConnection : IAsyncDisposable
{
    /// <summary>How many times to try the gateways, a second apart, before giving up.</summary>
    public const int ConnectAttempts = 5;

    private readonly IHost _host;

    private ClusterConnection(IHost host) => _host = host;

    public IClusterClient Client => _host.Services.GetRequiredService<IClusterClient>();

    /// <summary>
    /// Connects to the cluster <see cref="ClusterAddress.ClusterId"/>: through the given gateways
    /// (static clustering), or through every gateway its Redis membership table lists.
    /// </summary>
    public static async Task<ClusterConnection> ConnectAsync(ClusterAddress address, CancellationToken cancellation = default)
    {
        var host = BuildClient(address);
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

    /// <summary>The client's host, configured and not yet started (tests read its effective options).</summary>
    public static IHost BuildClient(ClusterAddress address)
    {
        var builder = Host.CreateApplicationBuilder(ShootdownSilo.HostArgs);
        // The CLI reports a failed connection in one line of its own; Orleans' retries would print stack traces.
        builder.Logging.ClearProviders();
        var attempts = 0;
        builder.UseOrleansClient(client =>
        {
            if (address.Redis is { } redis) client.UseRedisClustering(o => o.ConfigurationOptions = ShootdownSilo.RedisOptions(redis));
            else client.UseStaticClustering(address.Gateways.ToArray());
            if (address.Certificate is { } certificate) client.UseTls(certificate, o => ClusterTls.Configure(o, certificate));
            // Grain calls carry the caller's trace context, so they join the run's spans.
            client.AddActivityPropagation();
            client.Configure<ClusterOptions>(o =>
            {
                o.ServiceId = ShootdownSilo.ServiceId;
                o.ClusterId = address.ClusterId;
            });
            // ClientMessagingOptions, not their MessagingOptions base: options are bound by their own type.
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = ShootdownSilo.ResponseTimeout);
            // A gateway that died is dropped from the list at once rather than after a minute, so
            // a run that recovers from a lost silo reconnects through the survivors.
            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(1));
            // The client would otherwise retry the first connection with growing back-off for ever.
            client.UseConnectionRetryFilter(async (_, ct) =>
            {
                if (++attempts >= ConnectAttempts) return false;
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
                return true;
            });
        });
        return builder.Build();
    }

    /// <summary>Why a connection failed, in one line a person can act on.</summary>
    public static string Explain(Exception e, ClusterAddress cluster)
    {
        if (Chain(e).Any(x => x is StackExchange.Redis.RedisConnectionException { FailureType: StackExchange.Redis.ConnectionFailureType.AuthenticationFailure }))
            return "Redis refused to authenticate this client (is --redis-password-file Redis's password, and --redis-tls given if Redis speaks TLS?)";
        if (Chain(e).Any(x => x is StackExchange.Redis.RedisConnectionException))
            return $"Redis does not answer within {ShootdownSilo.RedisConnectTimeout.TotalSeconds:0} s" +
                   (cluster.Redis?.Certificate is null ? " (if it speaks TLS, give --redis-tls with --tls-cert)" : "");
        var message = e.GetBaseException().Message.Split('\n')[0].Trim();
        // A TLS mismatch shows as a connection dropped during the handshake, or one that never
        // opens, in whichever words the layer that noticed uses.
        if (Chain(e).Any(x => x is IOException or System.Security.Authentication.AuthenticationException
                || x.GetType().Name.Contains("Connection", StringComparison.Ordinal)
                || x.Message.Contains("connect", StringComparison.OrdinalIgnoreCase)))
            // Through Redis the gateways are the cluster id's own; a named gateway may be another cluster's.
            return $"a gateway refused or dropped the connection ({message.Split(',')[0].TrimEnd('.')}): check it is reachable, " +
                   (cluster.Redis is null ? "that --cluster-id is its cluster's, " : "") +
                   "and give --tls-cert, with the cluster's own certificate, exactly when its silos use TLS";
        if (message.Contains("gateway", StringComparison.OrdinalIgnoreCase))
            return cluster.Redis is not null
                ? $"Redis lists no live gateway of this cluster after {ConnectAttempts} tries (is --cluster-id right, and are its silos up?)"
                : $"no gateway accepted the connection after {ConnectAttempts} tries (are the silos up, is --cluster-id theirs, and --tls-cert given exactly when they use TLS?)";
        return message;
    }

    private static IEnumerable<Exception> Chain(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException) yield return x;
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

/// <summary>Where a running cluster is: its id, and its Redis membership table or its gateways; with the cluster certificate if it uses TLS.</summary>
public sealed record ClusterAddress(string ClusterId, Membership.Redis? Redis, IReadOnlyList<IPEndPoint> Gateways, X509Certificate2? Certificate = null)
{
    public override string ToString() =>
        $"cluster '{ClusterId}' {(Redis is { } r ? $"in Redis at {r}" : $"at {string.Join(", ", Gateways)}")}";
}
