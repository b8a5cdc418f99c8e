using Orleans.TestingHost;
using Shootdown.Hosting;

namespace Shootdown.Tests;

/// <summary>In-process Orleans clusters of one, two and three silos, shared by the grain tests.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public InProcessTestCluster OneSilo { get; private set; } = null!;
    public InProcessTestCluster TwoSilos { get; private set; } = null!;
    public InProcessTestCluster ThreeSilos { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        // The test process's tracer listens before any silo is built, as a traced command's
        // pipeline does: a silo carries grain-call spans only if something listens as it starts.
        TestTracing.Listen();
        OneSilo = await Start(1);
        TwoSilos = await Start(2);
        ThreeSilos = await Start(3);
    }

    private static async Task<InProcessTestCluster> Start(int silos)
    {
        var builder = new InProcessTestClusterBuilder((short)silos);
        builder.ConfigureSilo((_, silo) => silo.AddShootdown());
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    public async ValueTask DisposeAsync()
    {
        await OneSilo.DisposeAsync();
        await TwoSilos.DisposeAsync();
        await ThreeSilos.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "clusters";
}
