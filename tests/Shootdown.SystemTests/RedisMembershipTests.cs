using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Shootdown.Analysis.Runs;
using Shootdown.Client.Running;
using Shootdown.Grains;
using Shootdown.Scenarios;
using Shootdown.Hosting;
using StackExchange.Redis;

namespace Shootdown.Tests;

/// <summary>
/// A cluster whose Redis goes away: killed and restarted empty, or paused. The silos rejoin the
/// table they lost, a run in flight ends in the reference digest, and the cluster serves the
/// next run, to the client it had and to a new one.
/// </summary>
public sealed class RedisMembershipTests
{
    private static readonly Scenario Small = ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml"));

    private sealed class Cluster : IAsyncDisposable
    {
        public required RedisServer Redis { get; init; }
        public required string Id { get; init; }
        public required List<IHost> Silos { get; init; }

        public static async Task<Cluster> StartAsync(RedisServer redis, int silos)
        {
            var id = $"redis-{Guid.NewGuid():N}";
            var ports = EmbeddedCluster.FreePorts(2 * silos);
            var hosts = new List<IHost>();
            for (var i = 0; i < silos; i++)
            {
                var host = ShootdownSilo.BuildSilo(new SiloSettings(id, new Membership.Redis(redis.Endpoint), ports[2 * i], ports[2 * i + 1],
                    IPAddress.Loopback, IPAddress.Loopback));
                await host.StartAsync();
                hosts.Add(host);
            }
            var cluster = new Cluster { Redis = redis, Id = id, Silos = hosts };
            await cluster.WaitForActiveRowsAsync(silos, TimeSpan.FromSeconds(30));
            return cluster;
        }

        public Task<ClusterConnection> ConnectAsync() => ClusterConnection.ConnectAsync(new ClusterAddress(Id, new Membership.Redis(Redis.Endpoint), []));

        /// <summary>The rows of the Redis table, as a client reading gateways sees them (none while Redis cannot be reached).</summary>
        public async Task<string[]> RowsAsync()
        {
            try
            {
                await using var redis = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { Redis.Endpoint }, ConnectTimeout = 1000 });
                var rows = await redis.GetDatabase().HashGetAllAsync($"{ShootdownSilo.ServiceId}/members/{Id}");
                return [.. rows.Where(r => r.Name != "Version").Select(r => r.Value.ToString())];
            }
            catch (RedisException)
            {
                return [];
            }
        }

        public async Task WaitForActiveRowsAsync(int silos, TimeSpan patience)
        {
            var deadline = DateTime.UtcNow + patience;
            var active = $"\"Status\":{(int)Orleans.Runtime.SiloStatus.Active},";
            string[] rows;
            while ((rows = await RowsAsync()).Count(r => r.Contains(active)) < silos)
            {
                Assert.True(DateTime.UtcNow < deadline,
                    $"{rows.Count(r => r.Contains(active))} of {silos} silos listed active in Redis after {patience.TotalSeconds:0} s; the rows: {string.Join(" | ", rows)}");
                await Task.Delay(250);
            }
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var silo in Silos)
            {
                try
                {
                    await silo.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token);
                }
                catch (Exception)
                {
                    // A silo that stopped itself, or cannot reach Redis to say it leaves: it is going anyway.
                }
                silo.Dispose();
            }
        }
    }

    private static async Task AssertReferenceDigest(IGrainFactory grains, CheckpointPolicy? checkpoints = null)
    {
        var policy = Small.Policies[0];
        var run = await ShootdownRunner.RunPolicyOnGrainsAsync(Small, policy, grains, options: new GrainEngineOptions(Partitions: 2, Checkpoints: checkpoints));
        Assert.Equal(InProcessRuns.Reference(Small, policy).Result.Digest, run.Result.Digest);
    }

    [Fact]
    public async Task RedisRestartedEmptyTheSilosRejoinAndServeTheNextRun()
    {
        using var redis = new RedisServer();
        await using var cluster = await Cluster.StartAsync(redis, silos: 2);
        await using var client = await cluster.ConnectAsync();
        // Restarted within a table refresh of the second silo's join: the first silo's last periodic
        // read lacks that silo or lists it joining, and the table it restores must still hold both, active.
        redis.Restart();
        await cluster.WaitForActiveRowsAsync(2, ShootdownSilo.MembershipRefresh * 3);
        Assert.All(cluster.Silos, s => Assert.False(s.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested));
        await AssertReferenceDigest(client.Client);
        await using var another = await cluster.ConnectAsync();
        await AssertReferenceDigest(another.Client);
    }

    [Fact]
    public async Task RedisPausedMidRunTheRunEndsInTheReferenceDigestAndTheNextRunToo()
    {
        using var redis = new RedisServer();
        await using var cluster = await Cluster.StartAsync(redis, silos: 2);
        await using var client = await cluster.ConnectAsync();
        var pause = redis.PauseAsync(TimeSpan.FromSeconds(10));
        // Checkpoints every window go to the paused Redis: each that cannot be written is skipped.
        await AssertReferenceDigest(client.Client, new CheckpointPolicy(Windows: 1, WallMs: 0));
        await pause;
        await AssertReferenceDigest(client.Client, new CheckpointPolicy(Windows: 1, WallMs: 0));
        await cluster.WaitForActiveRowsAsync(2, ShootdownSilo.MembershipRefresh * 3);
    }
}
