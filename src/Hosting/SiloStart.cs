using System.Net.Sockets;
using Microsoft.Extensions.Hosting;

namespace Shootdown.Hosting;

/// <summary>Starts a silo host within a stated time and says in one line why it could not.</summary>
public static class SiloStart
{
    /// <summary>How long a silo may take to reach its membership table and join; beyond it the start has failed.</summary>
    public static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Null once the silo has joined; otherwise the reason it did not.</summary>
    public static async Task<string?> TryStartAsync(IHost host, SiloSettings settings, CancellationToken cancellation)
    {
        if (PortInUse(settings) is { } problem) return problem;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(JoinTimeout);
        try
        {
            await host.StartAsync(deadline.Token);
            return null;
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            return $"did not join cluster '{settings.ClusterId}' within {JoinTimeout.TotalSeconds:0} s ({Where(settings)})";
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Explain(e, settings);
        }
    }

    /// <summary>
    /// Whether the silo or gateway port is taken. Orleans binds its listeners so that a second
    /// silo on a live silo's port starts anyway and then declares the first one dead as an "older
    /// version of itself": so the ports are tried here first, with a plain exclusive bind.
    /// </summary>
    private static string? PortInUse(SiloSettings settings)
    {
        foreach (var port in new[] { settings.SiloPort, settings.GatewayPort })
        {
            try
            {
                using var probe = new Socket(settings.Listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                probe.Bind(new System.Net.IPEndPoint(settings.Listen, port));
                probe.Listen();
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                return $"port {port} on {settings.Listen} is already in use";
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable)
            {
                return $"--listen {settings.Listen} is not an address of this host";
            }
        }
        return null;
    }

    private static string Where(SiloSettings settings) => settings.Membership switch
    {
        Membership.Redis redis => $"membership in Redis at {redis}",
        Membership.Localhost localhost => $"primary silo on 127.0.0.1:{localhost.PrimarySiloPort}",
        _ => "unknown membership",
    };

    /// <summary>The cause a person can act on, from the innermost exception that names one.</summary>
    public static string Explain(Exception e, SiloSettings settings)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                case SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }:
                    return $"port {settings.SiloPort} or {settings.GatewayPort} on {settings.Listen} is already in use";
                case SocketException { SocketErrorCode: SocketError.AddressNotAvailable }:
                    return $"--listen {settings.Listen} is not an address of this host";
                case StackExchange.Redis.RedisConnectionException { FailureType: StackExchange.Redis.ConnectionFailureType.AuthenticationFailure }:
                    return $"Redis at {(settings.Membership as Membership.Redis)?.ToString() ?? "?"} refused to authenticate this silo " +
                           "(is --redis-password-file Redis's password, and --redis-tls given if Redis speaks TLS?)";
                case StackExchange.Redis.RedisConnectionException:
                    return $"cannot reach Redis at {(settings.Membership as Membership.Redis)?.ToString() ?? "?"} within {ShootdownSilo.RedisConnectTimeout.TotalSeconds:0} s";
            }
        }
        var first = e.GetBaseException().Message.Split('\n')[0].Trim();
        return $"could not start: {first}";
    }
}
