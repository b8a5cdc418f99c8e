using System.CommandLine;
using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Hosting;
using Shootdown.Hosting;
using Shootdown.Silo;
using Shootdown.Telemetry.Export;

// One standalone silo. With --redis it joins a cluster whose membership table is in Redis, so
// silos may run on several hosts and any of them may die; without, it uses localhost development
// clustering around the silo on --primary-silo-port. Telemetry follows the standard OTEL_* variables.
var clusterId = ClusterOptionsText.ClusterIdOption("The cluster's id; silos and clients of one cluster share it.");
var redis = ClusterOptionsText.RedisOption("Join the cluster whose membership table is in this Redis (HOST:PORT) instead of localhost clustering.");
var siloPort = NumberOptions.Port("--silo-port", "The port other silos reach this one on.", 11111);
var gatewayPort = NumberOptions.Port("--gateway-port", "The port clients connect to.", 30000);
var primaryPort = NumberOptions.Port("--primary-silo-port",
    "Localhost clustering only: the primary silo's port (this silo's own port makes it the primary).", 11111);
var listen = AddressOption("--listen", "The address the silo and gateway ports are bound to (0.0.0.0 for every interface).", "127.0.0.1");
var advertise = AddressOption("--advertise", "The address other silos and clients reach this silo at (default: --listen).", null);
var tlsCert = ClusterOptionsText.TlsCertificateOption(
    $"Encrypt and authenticate every connection with this cluster certificate (PKCS#12 with its key; password in ${ClusterTls.PasswordVariable}).");
var insecure = new Option<bool>("--insecure")
{
    Description = "Allow a non-loopback --listen without TLS (anyone who reaches the ports can join or run), and a non-loopback --dashboard-host (the dashboard has no login).",
};
var dashboardPort = NumberOptions.OptionalPort("--dashboard-port", $"Serve the Orleans Dashboard on this port, at {ShootdownSilo.DashboardPath}.");
var kubernetes = new Option<bool>("--kubernetes")
{
    Description = "Run as a pod of deploy/k8s: the cluster id and this pod's address come from the environment the manifests set " +
                  "(Microsoft.Orleans.Hosting.Kubernetes), the ports listen on every interface, and a silo whose pod is gone is declared dead at once.",
};
var checkpointKey = new Option<string?>("--checkpoint-key")
{
    Description = "A file of at least 32 random bytes that every silo of the cluster is given: checkpoint parts in Redis are sealed with it, " +
                  "and a part sealed with another key is refused (default: a key derived from the cluster id, which detects corruption but not a writer who knows the id).",
};
var dashboardHost = AddressOption("--dashboard-host", "The address the dashboard listens on; loopback unless you mean to expose it.", "127.0.0.1");
var redisPasswordFile = ClusterOptionsText.RedisPasswordFileOption();
var redisTls = ClusterOptionsText.RedisTlsOption();

var root = new RootCommand("shootdown-silo: one Shootdown silo.")
{
    clusterId, redis, redisPasswordFile, redisTls, siloPort, gatewayPort, primaryPort, listen, advertise, tlsCert, insecure, kubernetes, dashboardPort, dashboardHost,
    checkpointKey,
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
    if (SettingsProblem(parse) is { } settingsProblem)
    {
        Console.Error.WriteLine($"shootdown-silo: {settingsProblem}");
        return 2;
    }
    System.Security.Cryptography.X509Certificates.X509Certificate2? certificate = null;
    if (parse.GetValue(tlsCert) is { } certPath)
    {
        try
        {
            certificate = ClusterTls.Load(certPath);
        }
        catch (CryptographicException e)
        {
            Console.Error.WriteLine($"shootdown-silo: --tls-cert {certPath}: {e.Message}");
            return 2;
        }
    }
    Shootdown.Engine.Checkpoints.CheckpointKey? key = null;
    if (parse.GetValue(checkpointKey) is { } keyPath)
    {
        try
        {
            key = Shootdown.Engine.Checkpoints.CheckpointKey.FromFile(keyPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            Console.Error.WriteLine($"shootdown-silo: --checkpoint-key {keyPath}: {e.Message}");
            return 2;
        }
    }
    var listenAddress = IPAddress.Parse(parse.GetValue(listen)!);
    var advertiseAddress = parse.GetValue(advertise) is { } a ? IPAddress.Parse(a) : listenAddress;
    var cluster = parse.GetValue(clusterId)!;
    if (parse.GetValue(kubernetes))
    {
        if (KubernetesPod.Problem(Environment.GetEnvironmentVariable) is { } podProblem)
        {
            Console.Error.WriteLine($"shootdown-silo: --kubernetes: {podProblem}");
            return 2;
        }
        (listenAddress, advertiseAddress, cluster) = (IPAddress.Any, KubernetesPod.Address(Environment.GetEnvironmentVariable), KubernetesPod.ClusterId(Environment.GetEnvironmentVariable));
    }
    Membership membership = new Membership.Localhost(parse.GetValue(primaryPort));
    if (parse.GetValue(redis) is { } r)
    {
        var (access, accessProblem) = ClusterOptionsText.RedisAccess(ClusterOptionsText.ParseRedis(r), parse.GetValue(redisPasswordFile), parse.GetValue(redisTls), certificate);
        if (accessProblem is not null)
        {
            Console.Error.WriteLine($"shootdown-silo: {accessProblem}");
            return 2;
        }
        membership = access!;
    }
    var settings = new SiloSettings(
        cluster,
        membership,
        parse.GetValue(siloPort), parse.GetValue(gatewayPort), listenAddress,
        advertiseAddress,
        certificate,
        parse.GetValue(dashboardPort) is { } port ? new IPEndPoint(IPAddress.Parse(parse.GetValue(dashboardHost)!), port) : null,
        key);
    using var pipeline = TelemetryPipeline.Start(telemetry);
    // In a pod: the pod's name, namespace and address come from the environment, and a silo
    // whose pod is gone is declared dead without waiting for missed probes.
    Action<ISiloBuilder>? inPod = parse.GetValue(kubernetes) ? silo => silo.UseKubernetesHosting() : null;
    using var host = ShootdownSilo.BuildSilo(settings, LogLevel.Warning, inPod);
    if (await SiloStart.TryStartAsync(host, settings, cancellation) is { } problem)
    {
        Console.Error.WriteLine($"shootdown-silo: {problem}");
        return 1;
    }
    Console.Error.WriteLine($"shootdown-silo: joined cluster '{settings.ClusterId}' as silo {settings.SiloEndpoint}, gateway {settings.GatewayEndpoint}" +
                            $" ({(settings.Membership is Membership.Redis m ? $"Redis {m}" : "localhost clustering")}{(certificate is null ? "" : ", TLS")})");
    if (settings.Membership is Membership.Redis && key is null)
        Console.Error.WriteLine("shootdown-silo: no --checkpoint-key: checkpoint parts are sealed with a key derived from the cluster id, " +
                                "which detects a changed or cut part but not a writer who knows the id");
    if (settings.Dashboard is { } dashboard) Console.Error.WriteLine($"shootdown-silo: Orleans Dashboard at http://{dashboard}{ShootdownSilo.DashboardPath}/");
    await host.WaitForShutdownAsync(cancellation);
    if (pipeline is not null) Console.Error.WriteLine($"shootdown-silo: {pipeline.Shutdown()}");
    return 0;
});

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    Console.Error.WriteLine($"shootdown-silo: {ParseErrors.Describe(parsed)}");
    return 2;
}
return await parsed.InvokeAsync();

// What no single option can say: how the options go together. (System.CommandLine runs a
// command's validators before it fills in defaults, so these are checked once parsing is done.)
string? SettingsProblem(ParseResult parse)
{
    var listenAddress = IPAddress.Parse(parse.GetValue(listen)!);
    var hasRedis = parse.GetValue(redis) is not null;
    // The Orleans Dashboard has no login: whoever reaches it sees every grain and can read the cluster's state.
    if (parse.GetValue(dashboardPort) is not null && !IPAddress.IsLoopback(IPAddress.Parse(parse.GetValue(dashboardHost)!)) && !parse.GetValue(insecure))
        return $"--dashboard-host {parse.GetValue(dashboardHost)} is beyond loopback and the dashboard has no login: give --insecure to serve it there anyway, or reach it through an SSH tunnel";
    if (!hasRedis && (parse.GetValue(redisPasswordFile) is not null || parse.GetValue(redisTls)))
        return "--redis-password-file and --redis-tls are for Redis membership: give --redis HOST:PORT too";
    // Whoever can write the membership table can stop a silo (rewrite its row) or join a stranger's:
    // beyond loopback Redis needs a password and TLS, as the cluster's own traffic does.
    if (parse.GetValue(redis) is { } redisText && !ClusterOptionsText.ParseRedis(redisText).IsLoopback && !parse.GetValue(insecure)
        && (parse.GetValue(redisPasswordFile) is null || !parse.GetValue(redisTls)))
        return $"--redis {redisText} is beyond loopback: give --redis-password-file FILE and --redis-tls (with --tls-cert), as deploy/local/cluster.sh " +
               "and deploy/k8s set Redis up, or --insecure on a network you trust";
    if (parse.GetValue(kubernetes))
    {
        if (!hasRedis) return "--kubernetes keeps membership in Redis: give --redis HOST:PORT (the manifests' redis service)";
        if (parse.GetResult(listen) is { Implicit: false } || parse.GetResult(advertise) is { Implicit: false } || parse.GetResult(clusterId) is { Implicit: false })
            return "--kubernetes takes the cluster id and the pod's address from the environment: leave out --cluster-id, --listen and --advertise";
        if (parse.GetValue(tlsCert) is null && !parse.GetValue(insecure))
            return "--kubernetes listens beyond loopback: give --tls-cert FILE.pfx (the manifests mount it from a secret), or --insecure";
        return null;
    }
    if (parse.GetValue(siloPort) == parse.GetValue(gatewayPort))
        return $"--silo-port and --gateway-port are both {parse.GetValue(siloPort)}; give two ports";
    if (!hasRedis && !IPAddress.IsLoopback(listenAddress))
        return $"--listen {listenAddress}: localhost clustering keeps every silo on one host; give --redis HOST:PORT to listen beyond loopback";
    if (hasRedis && parse.GetResult(primaryPort) is { Implicit: false })
        return "--primary-silo-port is for localhost clustering; with --redis there is no primary silo";
    if (parse.GetValue(tlsCert) is not null && parse.GetValue(insecure)) return "--tls-cert and --insecure cannot go together";
    if (!IPAddress.IsLoopback(listenAddress) && parse.GetValue(tlsCert) is null && !parse.GetValue(insecure))
        return $"--listen {listenAddress} is beyond loopback: give --tls-cert FILE.pfx, or --insecure to run without TLS on a network you trust";
    var advertised = parse.GetValue(advertise) is { } a ? IPAddress.Parse(a) : listenAddress;
    if (advertised.Equals(IPAddress.Any) || advertised.Equals(IPAddress.IPv6Any))
        return $"--listen {listenAddress} binds every interface: give --advertise ADDR, the address others reach this silo at";
    return null;
}

static Option<string?> AddressOption(string name, string description, string? fallback)
{
    var option = new Option<string?>(name) { Description = description };
    if (fallback is not null) option.DefaultValueFactory = _ => fallback;
    option.Validators.Add(r =>
    {
        if (r.GetValueOrDefault<string?>() is { } v && !IPAddress.TryParse(v, out _)) r.AddError($"{name} '{v}' is not an IP address");
    });
    return option;
}
