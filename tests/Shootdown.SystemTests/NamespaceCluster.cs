using System.Diagnostics;
using System.Net;

namespace Shootdown.Tests;

/// <summary>
/// Three silos with Redis membership, each in a network namespace of its own on a bridge, made by
/// <c>deploy/local/cluster.sh up 3 --netns</c> under names, a subnet, a state directory and a
/// Redis port of this instance's own, and removed by <c>down</c> when disposed (also when a test
/// failed or <c>up</c> itself failed half way: <c>up</c> undoes its own work). Needs root, as CI has.
/// </summary>
public sealed class NamespaceCluster : IAsyncDisposable
{
    private static int _instances;

    private readonly string _state;
    private readonly string _name;

    private NamespaceCluster(string state, string name)
    {
        _state = state;
        _name = name;
    }

    public string Redis { get; private set; } = "";
    /// <summary>The cluster certificate, when it was brought up with TLS.</summary>
    public string? TlsCertificate { get; private set; }
    public string ClusterId { get; private set; } = "";

    /// <summary>The file holding the password the cluster's Redis requires.</summary>
    public string RedisPasswordFile { get; private set; } = "";

    /// <summary>What a client gives <c>shootdown run</c> to reach this cluster (its certificate included, with TLS).</summary>
    public string[] ClientArgs =>
    [
        "--redis", Redis, "--cluster-id", ClusterId, "--redis-password-file", RedisPasswordFile,
        .. TlsCertificate is { } certificate ? ["--tls-cert", certificate, "--redis-tls"] : Array.Empty<string>(),
    ];

    /// <summary>A client of this cluster through the API.</summary>
    public Task<Client.Api.Simulator> ConnectAsync() =>
        Client.Api.Simulator.ConnectRedisAsync(Redis, ClusterId, certificate: TlsCertificate is { } path ? Hosting.ClusterTls.Load(path) : null,
            redisPasswordFile: RedisPasswordFile, redisTls: TlsCertificate is not null);

    /// <summary>The silos as <c>up</c> listed them: process id and silo endpoint, in start order.</summary>
    public List<(int Pid, IPEndPoint Silo)> Silos { get; } = [];

    public static async Task<NamespaceCluster> UpAsync(int silos = 3, bool tls = false)
    {
        // A name, subnet and Redis port per instance (and per test process), so clusters never collide.
        var n = Interlocked.Increment(ref _instances);
        var tag = (Environment.ProcessId % 200 + n) % 250;
        var cluster = new NamespaceCluster(Path.Combine(Path.GetTempPath(), $"shootdown-netns-{Environment.ProcessId}-{n}"), $"sdt{tag}");
        string[] args =
        [
            "up", silos.ToString(), "--netns", "--name", cluster._name, "--subnet", $"10.233.{tag}", "--state", cluster._state,
            "--redis-port", Client.Running.EmbeddedCluster.FreePorts(1)[0].ToString(), "--cluster-id", $"test-{Guid.NewGuid():N}",
            .. tls ? ["--tls"] : Array.Empty<string>(),
        ];
        var (exit, stdout, stderr) = await cluster.ScriptAsync(args);
        if (exit != 0) throw new InvalidOperationException($"cluster.sh up failed ({exit}): {stderr.Trim()}");
        foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var (key, value) = (line[..line.IndexOf('=')], line[(line.IndexOf('=') + 1)..]);
            switch (key)
            {
                case "redis": cluster.Redis = value; break;
                case "cluster-id": cluster.ClusterId = value; break;
                case "redis-password-file": cluster.RedisPasswordFile = value; break;
                case "tls-cert": cluster.TlsCertificate = value; break;
                case "silo":
                    var parts = value.Split(' ');
                    cluster.Silos.Add((int.Parse(parts[0]), IPEndPoint.Parse(parts[1])));
                    break;
            }
        }
        return cluster;
    }

    /// <summary>Kills a silo process outright, as a crashed host would be lost.</summary>
    public void Kill(IPEndPoint silo)
    {
        var (pid, _) = Silos.Single(s => s.Silo.Equals(silo));
        Process.GetProcessById(pid).Kill();
    }

    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "deploy", "local", "cluster.sh"))) return dir.FullName;
            throw new DirectoryNotFoundException("no deploy/local/cluster.sh above the test directory");
        }
    }

    private Task<(int Exit, string Out, string Err)> ScriptAsync(params string[] args) => RunScriptAsync("cluster.sh", args);

    /// <summary>A script of deploy/local, with the silo of this test build.</summary>
    public static async Task<(int Exit, string Out, string Err)> RunScriptAsync(string script, params string[] args)
    {
        var psi = new ProcessStartInfo(Path.Combine(RepositoryRoot, "deploy", "local", script))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // The silo this test build made, not a separate build of the script's own.
        psi.Environment["SHOOTDOWN_SILO"] = Path.Combine(AppContext.BaseDirectory, "shootdown-silo.dll");
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        return (process.ExitCode, await stdout, await stderr);
    }

    public async ValueTask DisposeAsync()
    {
        var (exit, _, stderr) = await ScriptAsync("down", "--state", _state);
        if (exit != 0) throw new InvalidOperationException($"cluster.sh down failed ({exit}): {stderr.Trim()}");
    }
}
