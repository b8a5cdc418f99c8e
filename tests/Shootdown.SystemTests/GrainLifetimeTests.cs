using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.TestingHost;
using Shootdown.Analysis.Runs;
using Shootdown.Client.Running;
using Shootdown.Grains.Checkpoints;
using Shootdown.Grains;
using Shootdown.Model.Kernel;
using Shootdown.Model.Simulation;
using Shootdown.Scenarios;
using Shootdown.Hosting;

namespace Shootdown.Tests;

/// <summary>
/// How long the grain engine's calls may take and how long its grains live: the response
/// timeout silos and clients really apply, grains that outlive Orleans' idle collector while
/// their run lives, and a run its client left that ends itself after the lease.
/// </summary>
public sealed class GrainLifetimeTests
{
    /// <summary>Options are bound by their own type: configuring the MessagingOptions base left Orleans' 30 s in force.</summary>
    [Fact]
    public void SilosAndClientsApplyTheEnginesResponseTimeout()
    {
        using var silo = ShootdownSilo.BuildSilo(SiloSettings.Loopback("timeouts", 22_111, 22_112, 22_111));
        Assert.Equal(ShootdownSilo.ResponseTimeout, silo.Services.GetRequiredService<IOptions<SiloMessagingOptions>>().Value.ResponseTimeout);
        using var client = ClusterConnection.BuildClient(new ClusterAddress("timeouts", null, [new IPEndPoint(IPAddress.Loopback, 22_112)]));
        Assert.Equal(ShootdownSilo.ResponseTimeout, client.Services.GetRequiredService<IOptions<ClientMessagingOptions>>().Value.ResponseTimeout);
        Assert.Equal(TimeSpan.FromMinutes(10), ShootdownSilo.ResponseTimeout);
    }

    private static async Task<InProcessTestCluster> Cluster(TimeSpan collectionAge, TimeSpan lease)
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) => silo.AddShootdown()
            .Configure<GrainCollectionOptions>(o => (o.CollectionAge, o.CollectionQuantum) = (collectionAge, TimeSpan.FromMilliseconds(250)))
            .Configure<RunLeaseOptions>(o => o.Length = lease));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    private static readonly Scenario Small = ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml"));

    private static RunSpec Spec(KernelPolicy policy) => new($"{Guid.NewGuid():N}/{policy.Name}", Small.Definition.ToJson(), SimulationDefinition.PolicyToJson(policy),
        policy.Name, 0, "test", Small.Name, Partitions: 2);

    /// <summary>
    /// A 2 s collection age, and a client that stops calling for 3 s mid-run: every grain of the
    /// run (coordinator, partitions, CPUs, mms) sat idle past the age, and the run still ends
    /// with the reference digest.
    /// </summary>
    [Fact]
    public async Task ARunsGrainsOutliveTheIdleCollector()
    {
        await using var cluster = await Cluster(collectionAge: TimeSpan.FromSeconds(2), lease: TimeSpan.FromMinutes(5));
        var policy = Small.Policies[0];
        var spec = Spec(policy);
        var run = cluster.Client.GetGrain<IRunGrain>(spec.RunKey);
        await run.Begin(spec);
        Assert.False((await run.Advance(1)).Done);
        await Task.Delay(TimeSpan.FromSeconds(3.5), cancellationToken: TestContext.Current.CancellationToken);
        while (!(await run.Advance(10_000)).Done) { }
        var result = ShootdownRunner.ResultOf(Small, await run.Collect());
        Assert.Equal(InProcessRuns.Reference(Small, policy).Result.Digest, result.Digest);
    }

    /// <summary>A client that begins a run and goes: after the lease the run is abandoned, its coordinator and partitions forget it, and its checkpoints are deleted.</summary>
    [Fact]
    public async Task ARunItsClientLeftEndsAfterTheLease()
    {
        await using var cluster = await Cluster(collectionAge: TimeSpan.FromMinutes(15), lease: TimeSpan.FromSeconds(2));
        var spec = Spec(Small.Policies[0]) with { Checkpoints = new CheckpointPolicy(Windows: 1, WallMs: 0) };
        var run = cluster.Client.GetGrain<IRunGrain>(spec.RunKey);
        await run.Begin(spec);
        var taken = (await run.Advance(1)).Checkpoint!;
        var parts = CheckpointKeys.Parts(taken.RunKey, taken.Number, taken.Partitions);
        var store = new ProcessCheckpointStore();
        Assert.All(parts, key => Assert.NotNull(store.Get(key).Result));
        await Task.Delay(TimeSpan.FromSeconds(4), cancellationToken: TestContext.Current.CancellationToken);
        // No client will resume it: its checkpoints went with it.
        foreach (var key in parts) Assert.Null(await store.Get(key));
        var coordinator = await Assert.ThrowsAsync<InvalidOperationException>(() => run.Advance(1));
        Assert.Equal("Begin first", coordinator.Message);
        var partition = cluster.Client.GetGrain<IPartitionGrain>(0, PartitionKeys.Extension(spec, 0));
        var forgotten = await Assert.ThrowsAsync<InvalidOperationException>(() => partition.Collect());
        Assert.Equal("the partition was not prepared", forgotten.Message);
    }
}
