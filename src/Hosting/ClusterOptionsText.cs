using System.CommandLine;
using System.Net;
using System.Text.RegularExpressions;

namespace Shootdown.Hosting;

/// <summary>
/// The cluster options that silos and clients share (<c>--cluster-id</c>, <c>--redis</c>, addresses
/// and <c>HOST:PORT</c> endpoints): their parsing, and System.CommandLine validators that report a
/// bad value in one line.
/// </summary>
public static partial class ClusterOptionsText
{
    public const string DefaultClusterId = "shootdown-dev";

    /// <summary>Parses <c>HOST:PORT</c> with an IP address (or localhost); throws <see cref="FormatException"/> with the reason.</summary>
    public static IPEndPoint ParseIpEndPoint(string what, string text)
    {
        var (host, port) = SplitHostPort(what, text);
        if (IPAddress.TryParse(host, out var address)) return new IPEndPoint(address, port);
        if (host == "localhost") return new IPEndPoint(IPAddress.Loopback, port);
        throw new FormatException($"{what} '{text}': give an IP address (or localhost), not '{host}'");
    }

    /// <summary>Parses Redis's <c>HOST:PORT</c>, where the host may be a name (a Kubernetes service, say).</summary>
    public static Membership.Redis ParseRedis(string text)
    {
        var (host, port) = SplitHostPort("--redis", text);
        if (Uri.CheckHostName(host) == UriHostNameType.Unknown) throw new FormatException($"--redis '{text}': '{host}' is not a host name or address");
        return new Membership.Redis(new DnsEndPoint(host, port));
    }

    private static (string Host, int Port) SplitHostPort(string what, string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text[(colon + 1)..], out var port) || port is < 1 or > 65535)
            throw new FormatException($"{what} '{text}' is not HOST:PORT with a port from 1 to 65535");
        return (text[..colon].Trim('[', ']'), port);
    }

    /// <summary>Cluster ids name Redis keys and appear in logs: letters, digits, '.', '_' and '-', at most 64.</summary>
    public static string? ClusterIdProblem(string id) =>
        ClusterIdPattern().IsMatch(id) ? null : $"--cluster-id '{id}' must be 1 to 64 letters, digits, '.', '_' or '-'";

    [GeneratedRegex(@"^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex ClusterIdPattern();

    /// <summary>The <c>--cluster-id</c> option, validated.</summary>
    public static Option<string> ClusterIdOption(string description)
    {
        var option = new Option<string>("--cluster-id") { Description = description, DefaultValueFactory = _ => DefaultClusterId };
        option.Validators.Add(r =>
        {
            if (ClusterIdProblem(r.GetValueOrDefault<string>()) is { } problem) r.AddError(problem);
        });
        return option;
    }

    /// <summary>The <c>--redis HOST:PORT</c> option, validated.</summary>
    public static Option<string?> RedisOption(string description)
    {
        var option = new Option<string?>("--redis") { Description = description };
        option.Validators.Add(r => AddParseError(r, text => ParseRedis(text)));
        return option;
    }

    /// <summary>The <c>--redis-password-file FILE</c> option: the password in a file, so that it is in no command line.</summary>
    public static Option<string?> RedisPasswordFileOption() => new("--redis-password-file")
    {
        Description = "A file whose first line is the password Redis requires (requirepass); deploy/local/cluster.sh makes one.",
    };

    /// <summary>The <c>--redis-tls</c> option.</summary>
    public static Option<bool> RedisTlsOption() => new("--redis-tls")
    {
        Description = "Reach Redis over TLS; Redis must present the cluster certificate (--tls-cert), as cluster.sh --tls sets it up.",
    };

    /// <summary>
    /// <paramref name="redis"/> with the password in <paramref name="passwordFile"/> and, with
    /// <paramref name="tls"/>, TLS pinned to <paramref name="certificate"/>; or the problem, in one line.
    /// </summary>
    public static (Membership.Redis? Redis, string? Problem) RedisAccess(Membership.Redis redis, string? passwordFile, bool tls,
        System.Security.Cryptography.X509Certificates.X509Certificate2? certificate)
    {
        string? password = null;
        if (passwordFile is not null)
        {
            try
            {
                password = File.ReadLines(passwordFile).FirstOrDefault()?.Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return (null, $"--redis-password-file {passwordFile}: {e.Message}");
            }
            if (string.IsNullOrEmpty(password)) return (null, $"--redis-password-file {passwordFile}: the first line is empty");
        }
        if (tls && certificate is null) return (null, "--redis-tls pins Redis to the cluster certificate: give --tls-cert FILE.pfx too");
        return (redis with { Password = password, Certificate = tls ? certificate : null }, null);
    }

    /// <summary>The <c>--tls-cert FILE.pfx</c> option.</summary>
    public static Option<string?> TlsCertificateOption(string description)
    {
        var option = new Option<string?>("--tls-cert") { Description = description };
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } path && !File.Exists(path)) r.AddError($"--tls-cert {path}: no such file");
        });
        return option;
    }

    /// <summary>Adds the <see cref="FormatException"/> message of <paramref name="parse"/> on the option's value as its error.</summary>
    public static void AddParseError(System.CommandLine.Parsing.OptionResult result, Action<string> parse)
    {
        if (result.GetValueOrDefault<string?>() is not { } text) return;
        try
        {
            parse(text);
        }
        catch (FormatException e)
        {
            result.AddError(e.Message);
        }
    }
}
