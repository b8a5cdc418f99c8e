using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Shootdown.Analysis.Runs;
using Shootdown.Client.Running;
using Shootdown.Engine.Checkpoints;
using Shootdown.Grains.Checkpoints;
using Shootdown.Grains;
using Shootdown.Scenarios;
using Shootdown.Hosting;

namespace Shootdown.Tests;

/// <summary>
/// A checkpoint store in trouble: a checkpoint it cannot take is skipped and the run goes on to
/// the reference digest; Redis down, back, killed and back again is one declared fault per
/// failed call, and the store works again once Redis does.
/// </summary>
public sealed class CheckpointStoreTests
{
    /// <summary>A store whose every write fails, as Redis paused or gone would make it.</summary>
    private sealed class FailingStore : ICheckpointStore
    {
        public Task Put(string key, SealedPart part) => throw new CheckpointStoreFault("checkpoint store (test): write: no connection is active");
        public Task<byte[]?> Get(string key) => Task.FromResult<byte[]?>(null);
        public Task Delete(IReadOnlyList<string> keys) => Task.CompletedTask;
    }

    [Fact]
    public async Task ACheckpointTheStoreCannotTakeIsSkippedAndTheRunGoesOn()
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton<ICheckpointStore, FailingStore>();
            silo.AddShootdown();
        });
        await using var cluster = builder.Build();
        await cluster.DeployAsync(cancellationToken: TestContext.Current.CancellationToken);
        var scenario = ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml"));
        var policy = scenario.Policies[0];
        var run = await ShootdownRunner.RunPolicyOnGrainsAsync(scenario, policy, cluster.Client,
            options: new GrainEngineOptions(Partitions: 2, Checkpoints: new CheckpointPolicy(Windows: 3, WallMs: 0)), cancellation: TestContext.Current.CancellationToken);
        Assert.Equal(InProcessRuns.Reference(scenario, policy).Result.Digest, run.Result.Digest);
        Assert.True(run.Engine!.CheckpointsSkipped > 1, $"{run.Engine.CheckpointsSkipped} checkpoints skipped");
    }

    /// <summary>Writes until the store takes the value (Redis back: the connection is made anew, or re-made by the multiplexer).</summary>
    private static async Task PutOnceRedisIsBack(ICheckpointStore store, string key, SealedPart part)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await store.Put(key, part);
                return;
            }
            catch (CheckpointStoreFault) when (attempt < 20)
            {
                await Task.Delay(500);
            }
        }
    }

    [Fact]
    public async Task RedisDownBackKilledAndBackIsAFaultEachTimeAndThenWorks()
    {
        var port = EmbeddedCluster.FreePorts(1)[0];
        using var store = new RedisCheckpointStore(new Membership.Redis(new DnsEndPoint("127.0.0.1", port)));
        byte[] value = [1, 2, 3];
        var fault = await Assert.ThrowsAsync<CheckpointStoreFault>(() => store.Put("k", new SealedPart([value])));
        Assert.StartsWith($"checkpoint store (Redis at 127.0.0.1:{port}): write: ", fault.Message);
        Assert.DoesNotContain('\n', fault.Message);

        using var redis = new RedisServer(port);
        // The failed first connection is not kept: the store connects again.
        await PutOnceRedisIsBack(store, "k", new SealedPart([value]));
        Assert.Equal(value, await store.Get("k"));
        redis.Kill();
        await Assert.ThrowsAsync<CheckpointStoreFault>(() => store.Put("k", new SealedPart([value])));
        redis.Restart();
        // Restarted empty: the store works again, and the old key is gone with the old Redis.
        await PutOnceRedisIsBack(store, "k2", new SealedPart([value]));
        Assert.Equal(value, await store.Get("k2"));
        Assert.Null(await store.Get("k"));
    }

    [Fact]
    public async Task APartOfManySegmentsLargerThanAPieceComesBackWhole()
    {
        var port = EmbeddedCluster.FreePorts(1)[0];
        using var redis = new RedisServer(port);
        using var store = new RedisCheckpointStore(new Membership.Redis(new DnsEndPoint("127.0.0.1", port)));
        // 40 MB in segments of 25 KB (a storm's CPU states), so pieces of 16 MB start and end inside segments.
        var bytes = new byte[40_000_000];
        new Random(7).NextBytes(bytes);
        var segments = Enumerable.Range(0, bytes.Length / 25_000).Select(i => (ReadOnlyMemory<byte>)bytes.AsMemory(i * 25_000, 25_000)).ToArray();
        await PutOnceRedisIsBack(store, "big", new SealedPart(segments));
        Assert.Equal(bytes, await store.Get("big"));
        await store.Delete(["big"]);
        Assert.Null(await store.Get("big"));
    }
}
