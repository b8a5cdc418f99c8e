using System.Collections.Immutable;
using System.Security.Cryptography.X509Certificates;
using Shootdown.Analysis.Reporting;
using Shootdown.Analysis.Runs;
using Shootdown.Client.Running;
using Shootdown.Scenarios;
using Shootdown.Hosting;

namespace Shootdown.Client.Api;

/// <summary>
/// Where scripts run scenarios: the sequential reference engine, an embedded cluster of silos
/// in this process (the default), or a running cluster reached through its gateways.
/// Results are the same on all three, digest for digest.
/// </summary>
public sealed class Simulator : IAsyncDisposable
{
    private readonly EmbeddedCluster? _embedded;
    private readonly ClusterConnection? _connection;
    private readonly EngineKind _engine;

    private Simulator(EngineKind engine, EmbeddedCluster? embedded, ClusterConnection? connection)
    {
        _engine = engine;
        _embedded = embedded;
        _connection = connection;
    }

    /// <summary>The sequential oracle, in this thread.</summary>
    public static Simulator Reference() => new(EngineKind.Reference, null, null);

    /// <summary>Grains on <paramref name="silos"/> silos started in this process.</summary>
    public static async Task<Simulator> StartEmbeddedAsync(int silos = 1, CancellationToken cancellation = default) =>
        new(EngineKind.Grains, await EmbeddedCluster.StartAsync(silos, cancellation), null);

    /// <summary>Grains on a running cluster reached through its gateways (standalone <c>shootdown-silo</c> processes; see deploy/README.md).</summary>
    public static async Task<Simulator> ConnectAsync(IEnumerable<string> gateways, string clusterId = ClusterOptionsText.DefaultClusterId,
        CancellationToken cancellation = default, X509Certificate2? certificate = null) =>
        new(EngineKind.Grains, null, await ClusterConnection.ConnectAsync(
            new ClusterAddress(clusterId, null, gateways.Select(g => ClusterOptionsText.ParseIpEndPoint("gateway", g)).ToList(), certificate), cancellation));

    /// <summary>
    /// Grains on a running cluster whose membership table is in Redis at <paramref name="redis"/>
    /// (<c>HOST:PORT</c>); with the cluster's <paramref name="certificate"/> when it uses TLS (<see cref="ClusterTls.Load"/>),
    /// the file holding Redis's password when it requires one, and <paramref name="redisTls"/> when Redis speaks TLS.
    /// </summary>
    public static async Task<Simulator> ConnectRedisAsync(string redis, string clusterId, CancellationToken cancellation = default,
        X509Certificate2? certificate = null, string? redisPasswordFile = null, bool redisTls = false)
    {
        var (access, problem) = ClusterOptionsText.RedisAccess(ClusterOptionsText.ParseRedis(redis), redisPasswordFile, redisTls, certificate);
        if (problem is not null) throw new ArgumentException(problem);
        return new(EngineKind.Grains, null, await ClusterConnection.ConnectAsync(new ClusterAddress(clusterId, access, [], certificate), cancellation));
    }

    /// <summary>A scenario file with no sweep.</summary>
    public static Scenario Load(string path) => ScenarioLoader.LoadFile(path);

    public async Task<Comparison> RunAsync(Scenario scenario, IProgress<RunProgressInfo>? progress = null, CancellationToken cancellation = default,
        GrainEngineOptions? options = null) =>
        (await RunAllAsync([scenario], progress, cancellation, options))[0];

    /// <summary>Runs scenarios (a sweep's points); <paramref name="options"/> shape the grain engine (farming, checkpoints, partitions).</summary>
    public Task<ImmutableArray<Comparison>> RunAllAsync(IReadOnlyList<Scenario> scenarios, IProgress<RunProgressInfo>? progress = null,
        CancellationToken cancellation = default, GrainEngineOptions? options = null) =>
        ShootdownRunner.RunAllAsync(scenarios, _engine, _embedded?.SiloCount ?? 0,
            (IGrainFactory?)_embedded?.GrainFactory ?? _connection?.Client, progress, cancellation, options: options);

    /// <summary>
    /// The scenario under <paramref name="seeds"/> seeds (its own first, then derived ones), run
    /// side by side: over this process's cores on the reference engine, over every silo's cores on
    /// grains. Each replicate is the run <c>--seed S</c> would give.
    /// </summary>
    public async Task<ReplicateSet> RunReplicatesAsync(Scenario scenario, int seeds, IProgress<RunProgressInfo>? progress = null,
        CancellationToken cancellation = default, GrainEngineOptions? options = null)
    {
        var file = new ScenarioFile("", [], [new SweepPoint([], scenario)]);
        var comparisons = await RunAllAsync(ReplicateSet.Expand(file, seeds), progress, cancellation, (options ?? GrainEngineOptions.Default) with { Farm = true });
        return ReplicateSet.Group(file, seeds, comparisons)[0];
    }

    /// <summary>Writes a comparison's result files (results.json, cpus.csv, interrupts and osnoise) into <paramref name="dir"/>.</summary>
    public static void WriteResults(string dir, Comparison comparison) => ResultFiles.WriteAll(dir, ResultFiles.Render(comparison));

    public async ValueTask DisposeAsync()
    {
        if (_embedded is not null) await _embedded.DisposeAsync();
        if (_connection is not null) await _connection.DisposeAsync();
    }
}
