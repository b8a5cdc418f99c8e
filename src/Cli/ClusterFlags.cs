using System.CommandLine;
using System.Security.Cryptography;
using Shootdown.Client.Running;
using Shootdown.Hosting;

namespace Shootdown.Cli;

/// <summary>
/// How <c>run</c> reaches a running cluster instead of starting an embedded one: its gateways
/// (<c>--gateway</c>, repeatable) or its Redis membership table (<c>--redis</c>), its
/// <c>--cluster-id</c>, and its certificate when it uses TLS.
/// </summary>
internal sealed class ClusterFlags
{
    private readonly Option<string[]> _gateways = new("--gateway")
    {
        Description = "Run on a running cluster through this gateway (HOST:PORT; repeatable) instead of an embedded silo.",
        AllowMultipleArgumentsPerToken = false,
    };

    private readonly Option<string?> _redis = ClusterOptionsText.RedisOption(
        "Run on the running cluster whose membership table is in this Redis (HOST:PORT); its gateways are read from there.");

    private readonly Option<string> _clusterId = ClusterOptionsText.ClusterIdOption("The running cluster's id (with --gateway or --redis).");

    private readonly Option<string?> _tlsCert = ClusterOptionsText.TlsCertificateOption(
        $"The cluster's certificate, when its silos use TLS (PKCS#12 with its key; password in ${ClusterTls.PasswordVariable}).");

    public ClusterFlags()
    {
        _gateways.Validators.Add(r =>
        {
            foreach (var g in r.GetValueOrDefault<string[]>() ?? [])
            {
                try
                {
                    ClusterOptionsText.ParseIpEndPoint("--gateway", g);
                }
                catch (FormatException e)
                {
                    r.AddError(e.Message);
                }
            }
        });
    }

    private readonly Option<string?> _redisPasswordFile = ClusterOptionsText.RedisPasswordFileOption();
    private readonly Option<bool> _redisTls = ClusterOptionsText.RedisTlsOption();

    public IEnumerable<Option> All => [_gateways, _redis, _redisPasswordFile, _redisTls, _clusterId, _tlsCert];

    /// <summary>
    /// The cluster the options name, or null for an embedded one; a problem with them is returned as one line.
    /// </summary>
    public (ClusterAddress? Address, string? Problem) Resolve(ParseResult parse)
    {
        var gateways = (parse.GetValue(_gateways) ?? []).Select(g => ClusterOptionsText.ParseIpEndPoint("--gateway", g)).ToList();
        var redis = parse.GetValue(_redis) is { } r ? ClusterOptionsText.ParseRedis(r) : null;
        var named = gateways.Count > 0 || redis is not null;
        if (gateways.Count > 0 && redis is not null) return (null, "--gateway and --redis are two ways to find one cluster; give one");
        if (!named)
        {
            if (parse.GetResult(_clusterId) is { Implicit: false }) return (null, "--cluster-id names a running cluster: give --gateway or --redis too");
            if (parse.GetValue(_tlsCert) is not null) return (null, "--tls-cert is for a running cluster: give --gateway or --redis too");
            return (null, null);
        }
        var certificate = default(System.Security.Cryptography.X509Certificates.X509Certificate2);
        if (parse.GetValue(_tlsCert) is { } path)
        {
            try
            {
                certificate = ClusterTls.Load(path);
            }
            catch (CryptographicException e)
            {
                return (null, $"--tls-cert {path}: {e.Message}");
            }
        }
        if (redis is null && (parse.GetValue(_redisPasswordFile) is not null || parse.GetValue(_redisTls)))
            return (null, "--redis-password-file and --redis-tls are for a cluster found through Redis: give --redis HOST:PORT too");
        if (redis is not null)
        {
            var (access, problem) = ClusterOptionsText.RedisAccess(redis, parse.GetValue(_redisPasswordFile), parse.GetValue(_redisTls), certificate);
            if (problem is not null) return (null, problem);
            redis = access;
        }
        return (new ClusterAddress(parse.GetValue(_clusterId)!, redis, gateways, certificate), null);
    }
}
