using System.Net;
using System.Net.Sockets;
using Shootdown.Analysis.Runs;
using Shootdown.Client.Running;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>
/// Bad cluster settings, given to the silo and to the client as a user gives them: one line that
/// says what is wrong, a non-zero exit, and never a hang (each failure has a stated timeout).
/// These run beside other tests: none has more than one silo, so none can be declared dead by a
/// peer slowed by their load (<see cref="ClusterDeathTests"/> has the one that has two).
/// </summary>
public sealed class ClusterSettingsTests
{
    internal static (int Exit, string Out, string Err) Silo(params string[] args) =>
        Cli.Dotnet(AppContext.BaseDirectory, [Path.Combine(AppContext.BaseDirectory, "shootdown-silo.dll"), .. args]);

    internal static void AssertOneLine(string stderr, string prefix, string says)
    {
        Assert.StartsWith(prefix, stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.True(stderr.Contains(says), stderr);
    }

    [Theory]
    [InlineData("shootdown-silo: --silo-port must be a port number (1-65535), not 'abc'", "--silo-port", "abc")]
    [InlineData("shootdown-silo: --gateway-port must be a port number (1-65535), not '99999999999'", "--gateway-port", "99999999999")]
    [InlineData("shootdown-silo: --silo-port and --gateway-port are both 5; give two ports", "--silo-port", "5", "--gateway-port", "5")]
    [InlineData("shootdown-silo: --listen 10.1.2.3: localhost clustering keeps every silo on one host; give --redis HOST:PORT to listen beyond loopback",
        "--listen", "10.1.2.3")]
    [InlineData("shootdown-silo: --listen 10.1.2.3 is beyond loopback: give --tls-cert FILE.pfx, or --insecure to run without TLS on a network you trust",
        "--listen", "10.1.2.3", "--redis", "127.0.0.1:6379")]
    [InlineData("shootdown-silo: --listen 0.0.0.0 binds every interface: give --advertise ADDR, the address others reach this silo at",
        "--listen", "0.0.0.0", "--redis", "127.0.0.1:6379", "--insecure")]
    [InlineData("shootdown-silo: --primary-silo-port is for localhost clustering; with --redis there is no primary silo",
        "--redis", "127.0.0.1:6379", "--primary-silo-port", "11111")]
    [InlineData("shootdown-silo: --redis 'nohost' is not HOST:PORT with a port from 1 to 65535", "--redis", "nohost")]
    [InlineData("shootdown-silo: --cluster-id 'a/b' must be 1 to 64 letters, digits, '.', '_' or '-'", "--cluster-id", "a/b")]
    [InlineData("shootdown-silo: --listen 'ten' is not an IP address", "--listen", "ten")]
    [InlineData("shootdown-silo: --tls-cert /nonexistent.pfx: no such file", "--tls-cert", "/nonexistent.pfx")]
    [InlineData("shootdown-silo: --dashboard-host 0.0.0.0 is beyond loopback and the dashboard has no login: give --insecure to serve it there anyway, or reach it through an SSH tunnel",
        "--dashboard-port", "18080", "--dashboard-host", "0.0.0.0")]
    [InlineData("shootdown-silo: --checkpoint-key /nonexistent.key: Could not find file '/nonexistent.key'.", "--checkpoint-key", "/nonexistent.key")]
    public void BadSiloArgumentsExitTwoWithOneLine(string expected, params string[] args)
    {
        var (exit, _, stderr) = Silo(args);
        Assert.Equal(2, exit);
        Assert.Equal(expected, stderr.Trim());
    }

    [Fact]
    public void AFileThatIsNoCertificateIsOneLine()
    {
        var notPfx = Path.Combine(Sim.TempDir(), "cluster.pfx");
        File.WriteAllText(notPfx, "not a certificate");
        var (exit, _, stderr) = Silo("--tls-cert", notPfx, "--listen", "127.0.0.1");
        Assert.Equal(2, exit);
        AssertOneLine(stderr, $"shootdown-silo: --tls-cert {notPfx}: not a PKCS#12 (.pfx) file", "SHOOTDOWN_TLS_PASSWORD");
    }

    [Fact]
    public void ASiloThatCannotReachRedisGivesUpWithinItsTimeout()
    {
        var ports = EmbeddedCluster.FreePorts(3);
        var (exit, _, stderr) = Silo("--redis", $"127.0.0.1:{ports[0]}", "--silo-port", $"{ports[1]}", "--gateway-port", $"{ports[2]}");
        Assert.Equal(1, exit);
        AssertOneLine(stderr, "shootdown-silo: ", $"cannot reach Redis at 127.0.0.1:{ports[0]} within 5 s");
    }

    [Fact]
    public async Task WrongSettingsAgainstARealClusterAreOneLineEach()
    {
        await using var cluster = await NamespaceCluster.UpAsync(silos: 1, tls: true);
        var scenario = Sim.ScenarioPath("small-64.yaml");
        var certificate = cluster.TlsCertificate!;

        // The right settings run, and match the reference engine.
        var (exit, stdout, stderr) = Cli.Shootdown(["run", scenario, "--json", .. cluster.ClientArgs]);
        Assert.True(exit == 0, stderr);
        var reference = await ShootdownRunner.RunAsync(ScenarioLoader.LoadFile(scenario), EngineKind.Reference, cancellation: TestContext.Current.CancellationToken);
        foreach (var run in reference.Runs) Assert.Contains(run.Result.Digest, stdout);
        string[] redisAccess = ["--redis", cluster.Redis, "--redis-password-file", cluster.RedisPasswordFile, "--redis-tls"];

        (exit, _, stderr) = Cli.Shootdown(["run", scenario, .. redisAccess, "--cluster-id", "another-cluster", "--tls-cert", certificate]);
        Assert.Equal(1, exit);
        AssertOneLine(stderr, "shootdown: cannot connect to cluster 'another-cluster'", "is --cluster-id right");

        // Redis's own door: TLS and a password. Plain text to its TLS port, another password, another certificate.
        (exit, _, stderr) = Cli.Shootdown("run", scenario, "--redis", cluster.Redis, "--redis-password-file", cluster.RedisPasswordFile, "--cluster-id", cluster.ClusterId);
        Assert.Equal(1, exit);
        AssertOneLine(stderr, $"shootdown: cannot connect to cluster '{cluster.ClusterId}'", "give --redis-tls with --tls-cert");
        var wrongPassword = Sim.Write(Sim.TempDir(), "password", "not-the-password\n");
        (exit, _, stderr) = Cli.Shootdown("run", scenario, "--redis", cluster.Redis, "--redis-password-file", wrongPassword, "--redis-tls", "--tls-cert", certificate,
            "--cluster-id", cluster.ClusterId);
        Assert.Equal(1, exit);
        AssertOneLine(stderr, $"shootdown: cannot connect to cluster '{cluster.ClusterId}'", "Redis refused to authenticate this client");
        var stranger = Path.Combine(Sim.TempDir(), "stranger.pfx");
        Assert.Equal(0, (await NamespaceCluster.RunScriptAsync("make-dev-cert.sh", stranger)).Exit);
        (exit, _, stderr) = Cli.Shootdown(["run", scenario, .. redisAccess, "--cluster-id", cluster.ClusterId, "--tls-cert", stranger]);
        Assert.Equal(1, exit);
        AssertOneLine(stderr, $"shootdown: cannot connect to cluster '{cluster.ClusterId}'", "Redis refused to authenticate this client");
        (exit, _, stderr) = Silo(["--cluster-id", cluster.ClusterId, .. redisAccess, "--tls-cert", stranger,
            "--silo-port", $"{EmbeddedCluster.FreePorts(1)[0]}", "--gateway-port", $"{EmbeddedCluster.FreePorts(1)[0]}"]);
        Assert.Equal(1, exit);
        AssertOneLine(stderr, "shootdown-silo: Redis at", "refused to authenticate this silo");
        // Beyond loopback, a silo will not use Redis without a password and TLS unless told --insecure.
        (exit, _, stderr) = Silo("--redis", cluster.Redis, "--cluster-id", cluster.ClusterId, "--tls-cert", certificate);
        Assert.Equal(2, exit);
        AssertOneLine(stderr, $"shootdown-silo: --redis {cluster.Redis} is beyond loopback", "--redis-password-file FILE and --redis-tls");

        // A silo given a port that is taken refuses to start, rather than evicting the silo there.
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        (exit, _, stderr) = Silo(["--cluster-id", cluster.ClusterId, .. redisAccess, "--tls-cert", certificate,
            "--silo-port", $"{port}", "--gateway-port", $"{EmbeddedCluster.FreePorts(1)[0]}"]);
        Assert.Equal(1, exit);
        Assert.Equal($"shootdown-silo: port {port} on 127.0.0.1 is already in use", stderr.Trim());

        // A client whose Redis does not answer.
        (exit, _, stderr) = Cli.Shootdown("run", scenario, "--redis", $"127.0.0.1:{EmbeddedCluster.FreePorts(1)[0]}", "--cluster-id", cluster.ClusterId);
        Assert.Equal(1, exit);
        AssertOneLine(stderr, "shootdown: cannot connect to cluster", "Redis does not answer within 5 s");
    }

    [Theory]
    [InlineData("shootdown: --gateway and --redis are two ways to find one cluster; give one", "--gateway", "127.0.0.1:30000", "--redis", "127.0.0.1:6379")]
    [InlineData("shootdown: --cluster-id names a running cluster: give --gateway or --redis too", "--cluster-id", "x")]
    [InlineData("shootdown: --silos starts silos in this process; it cannot go with --gateway or --redis, which name a running cluster",
        "--silos", "2", "--redis", "127.0.0.1:6379")]
    [InlineData("shootdown: --redis 'a:b' is not HOST:PORT with a port from 1 to 65535", "--redis", "a:b")]
    [InlineData("shootdown: --gateway and --redis run the grain engine on a cluster; they cannot go with --engine parallel",
        "--engine", "parallel", "--gateway", "127.0.0.1:30000")]
    [InlineData("shootdown: checkpoints are the grain engine's; they cannot go with --engine parallel", "--engine", "parallel", "--checkpoint-windows", "5")]
    [InlineData("shootdown: --partitions divides the grain or parallel engine's entities; it cannot go with --engine reference",
        "--engine", "reference", "--partitions", "2")]
    public void BadClientClusterArgumentsExitTwo(string expected, params string[] args)
    {
        var (exit, _, stderr) = Cli.Shootdown(["run", Sim.ScenarioPath("small-64.yaml"), .. args]);
        Assert.Equal(2, exit);
        Assert.Equal(expected, stderr.Trim());
    }
}

/// <summary>
/// A silo the cluster declares dead. It runs with the multi-host tests, one at a time: its two
/// silos probe each other, and a peer starved by other tests' load could be voted dead too.
/// </summary>
[Collection(MultiHostCollection.Name)]
public sealed class ClusterDeathTests
{
    /// <summary>
    /// A silo with a certificate other than its cluster's, where Redis does not check it (loopback,
    /// plain): it joins the table, the cluster's silos cannot complete a handshake with it and
    /// declare it dead. It says so in one line and exits 1; Orleans' own handler failed fast with a
    /// FATAL line and a stack (exit 134).
    /// </summary>
    [Fact]
    public async Task ASiloTheClusterDeclaresDeadSaysSoInOneLine()
    {
        using var redis = new RedisServer();
        var dir = Sim.TempDir();
        var (member, stranger) = (Path.Combine(dir, "member.pfx"), Path.Combine(dir, "stranger.pfx"));
        Assert.Equal(0, (await NamespaceCluster.RunScriptAsync("make-dev-cert.sh", member)).Exit);
        Assert.Equal(0, (await NamespaceCluster.RunScriptAsync("make-dev-cert.sh", stranger)).Exit);
        var ports = EmbeddedCluster.FreePorts(4);
        var id = $"dead-{Guid.NewGuid():N}";
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "shootdown-silo.dll"), "--redis", $"127.0.0.1:{redis.Port}",
            "--cluster-id", id, "--tls-cert", member, "--silo-port", $"{ports[0]}", "--gateway-port", $"{ports[1]}"]) { RedirectStandardError = true };
        using var first = System.Diagnostics.Process.Start(psi)!;
        try
        {
            Assert.Contains("joined cluster", await first.StandardError.ReadLineAsync(cancellationToken: TestContext.Current.CancellationToken));
            var (exit, _, stderr) = ClusterSettingsTests.Silo("--redis", $"127.0.0.1:{redis.Port}", "--cluster-id", id, "--tls-cert", stranger,
                "--silo-port", $"{ports[2]}", "--gateway-port", $"{ports[3]}");
            Assert.Equal(1, exit);
            ClusterSettingsTests.AssertOneLine(stderr, "shootdown-silo: the cluster declared this silo dead", "is --tls-cert the cluster's certificate");
        }
        finally
        {
            first.Kill();
        }
    }
}
