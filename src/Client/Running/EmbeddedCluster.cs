using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Shootdown.Hosting;

namespace Shootdown.Client.Running;

/// <summary>
/// N silos in this process on loopback, with localhost clustering: the embedded default
/// (N = 1) and the <c>--silos N</c> demonstration that results do not depend on placement.
/// </summary>
public sealed class EmbeddedCluster : IAsyncDisposable
{
    private readonly List<IHost> _hosts;

    private EmbeddedCluster(List<IHost> hosts, string clusterId, int[] gatewayPorts)
    {
        _hosts = hosts;
        ClusterId = clusterId;
        GatewayPorts = gatewayPorts;
    }

    public int SiloCount => _hosts.Count;

    /// <summary>The cluster id and gateway ports, for clients in other processes (<c>shootdown run --gateway</c>).</summary>
    public string ClusterId { get; }
    public int[] GatewayPorts { get; }

    /// <summary>The co-hosted client of the first silo.</summary>
    public IGrainFactory GrainFactory => _hosts[0].Services.GetRequiredService<IGrainFactory>();

    public static async Task<EmbeddedCluster> StartAsync(int silos, CancellationToken cancellation = default)
    {
        if (silos is < 1 or > 16) throw new ArgumentOutOfRangeException(nameof(silos), silos, "between 1 and 16 silos");
        var ports = FreePorts(2 * silos);
        var clusterId = $"embedded-{Guid.NewGuid():N}";
        var hosts = new List<IHost>();
        try
        {
            for (var i = 0; i < silos; i++)
            {
                var host = ShootdownSilo.BuildSilo(SiloSettings.Loopback(clusterId, ports[2 * i], ports[2 * i + 1], ports[0]));
                hosts.Add(host);
                await host.StartAsync(cancellation);
            }
            var cluster = new EmbeddedCluster(hosts, clusterId, Enumerable.Range(0, silos).Select(i => ports[2 * i + 1]).ToArray());
            await cluster.WaitForSilosAsync(cancellation);
            return cluster;
        }
        catch
        {
            foreach (var h in hosts) h.Dispose();
            throw;
        }
    }

    private async Task WaitForSilosAsync(CancellationToken cancellation)
    {
        var management = GrainFactory.GetGrain<IManagementGrain>(0);
        for (var attempt = 0; attempt < 300; attempt++)
        {
            var active = await management.GetHosts(onlyActive: true);
            if (active.Count == _hosts.Count) return;
            await Task.Delay(100, cancellation);
        }
        throw new TimeoutException($"only some of the {_hosts.Count} embedded silos joined the cluster");
    }

    /// <summary>Asks the OS for distinct free loopback ports.</summary>
    internal static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ =>
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            return l;
        }).ToList();
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        listeners.ForEach(l => l.Stop());
        return ports;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _hosts.Count - 1; i >= 0; i--)
        {
            try
            {
                await _hosts[i].StopAsync(TimeSpan.FromSeconds(10));
            }
            finally
            {
                _hosts[i].Dispose();
            }
        }
    }
}
