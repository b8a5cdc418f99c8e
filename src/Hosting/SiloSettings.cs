using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace Shootdown.Hosting;

/// <summary>How a cluster's silos find each other and how its clients find the silos' gateways.</summary>
public abstract record Membership
{
    /// <summary>
    /// Orleans' development clustering: the silo on <paramref name="PrimarySiloPort"/> holds the
    /// membership table in memory, so all silos share one host and the cluster dies with it.
    /// The embedded default.
    /// </summary>
    public sealed record Localhost(int PrimarySiloPort) : Membership;

    /// <summary>
    /// A membership table in Redis (<c>Microsoft.Orleans.Clustering.Redis</c>): silos on any hosts
    /// join through it, clients read the gateways from it, and any silo may die. With a
    /// <paramref name="Password"/>, every connection authenticates (Redis's requirepass, the
    /// default ACL user); with a <paramref name="Certificate"/>, it is TLS and Redis must present
    /// exactly that certificate (pinned by its SHA-256 hash, as silos pin each other's).
    /// </summary>
    public sealed record Redis(DnsEndPoint Server, string? Password = null, X509Certificate2? Certificate = null) : Membership
    {
        public override string ToString() => $"{Server.Host}:{Server.Port}";

        /// <summary>Whether Redis is on this host, where nothing beyond it can reach it unasked.</summary>
        public bool IsLoopback => Server.Host == "localhost" || IPAddress.TryParse(Server.Host, out var address) && IPAddress.IsLoopback(address);
    }
}

/// <summary>One silo's place in a cluster: what the <c>shootdown-silo</c> options say.</summary>
/// <param name="Listen">The address its silo and gateway ports are bound to.</param>
/// <param name="Advertise">The address other silos and clients are told to reach it at.</param>
/// <param name="Certificate">The cluster's certificate: with one, every connection is mutual TLS.</param>
/// <param name="Dashboard">Where to serve the Orleans Dashboard, or nowhere.</param>
public sealed record SiloSettings(
    string ClusterId,
    Membership Membership,
    int SiloPort,
    int GatewayPort,
    IPAddress Listen,
    IPAddress Advertise,
    X509Certificate2? Certificate = null,
    IPEndPoint? Dashboard = null,
    Engine.Checkpoints.CheckpointKey? CheckpointKey = null)
{
    /// <summary>A silo of an embedded cluster: loopback, localhost membership, no TLS.</summary>
    public static SiloSettings Loopback(string clusterId, int siloPort, int gatewayPort, int primarySiloPort, IPEndPoint? dashboard = null) =>
        new(clusterId, new Membership.Localhost(primarySiloPort), siloPort, gatewayPort, IPAddress.Loopback, IPAddress.Loopback, null, dashboard);

    public IPEndPoint SiloEndpoint => new(Advertise, SiloPort);
    public IPEndPoint GatewayEndpoint => new(Advertise, GatewayPort);
}
