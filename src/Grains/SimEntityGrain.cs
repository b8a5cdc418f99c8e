using Orleans.Concurrency;
using Shootdown.Engine;

namespace Shootdown.Grains;

/// <summary>
/// What CPU and mm grains share: an <see cref="EntityRunner"/> around one model object. The grain
/// only forwards: its partition hands it the events that waited for it, and takes back what it sent.
/// Its state lives only here, so the grain is kept in memory until its run ends it (the classes
/// are <c>[KeepAlive]</c>; see <see cref="RunLease"/>): a CPU no event reaches for an hour of a
/// long run must still be there to be collected.
/// </summary>
public abstract class SimEntityGrain(SimulationCatalog catalog) : Grain
{
    private EntityRunner? _runner;
    private SiloRun? _run;

    protected EntityRunner Runner => _runner ?? throw new InvalidOperationException("the grain was not started");
    protected SiloRun Run => _run ?? throw new InvalidOperationException("the grain was not started");

    public Task<EntityWindow> Start()
    {
        var run = catalog.Get(PartitionKeys.RunKeyOf(KeyExtension()));
        _run = run;
        _runner = new EntityRunner(run.Setup.CreateEntity((int)this.GetPrimaryKeyLong(), run.Spans), run.Contract);
        _runner.Start(Outbox);
        return Task.FromResult(TakeWindow());
    }

    public Task<EntityWindow> RunWindow(EntityInput input)
    {
        Runner.Deliver(input.Events.AsSpan(), input.Masks.AsSpan());
        Runner.RunUntil(input.WindowEnd, Outbox);
        return Task.FromResult(TakeWindow());
    }

    // Immutable: the state goes to (and comes from) the partition on this silo, and a local call would otherwise copy it.
    public Task<Immutable<byte[]>> Snapshot() => Task.FromResult(Runner.Snapshot().AsImmutable());

    /// <summary>Built afresh from the run's setup, as <see cref="Start"/> builds it, then given the state (a view of the partition's part).</summary>
    public Task<EntityWindow> Restore(Immutable<ReadOnlyMemory<byte>> state)
    {
        var run = catalog.Get(PartitionKeys.RunKeyOf(KeyExtension()));
        _run = run;
        _runner = EntityRunner.Restore(run.Setup.CreateEntity((int)this.GetPrimaryKeyLong(), run.Spans), run.Contract, state.Value);
        return Task.FromResult(TakeWindow());
    }

    public Task End()
    {
        Finish();
        return Task.CompletedTask;
    }

    /// <summary>Drops the model state and lets Orleans deactivate the grain.</summary>
    protected void Finish()
    {
        _runner = null;
        _run = null;
        DeactivateOnIdle();
    }

    private string KeyExtension()
    {
        this.GetPrimaryKeyLong(out var extension);
        return extension ?? throw new InvalidOperationException("an entity grain's key names its run and partition");
    }

    /// <summary>
    /// The calling thread's outbox: a turn runs the entity and copies what it sent into its answer
    /// (<see cref="TakeWindow"/>) without awaiting, so one buffer per thread serves every grain.
    /// </summary>
    private static EventBuffer Outbox => t_outbox ??= new EventBuffer();

    [ThreadStatic] private static EventBuffer? t_outbox;

    private EntityWindow TakeWindow()
    {
        var window = EntityWindow.Of(Runner.TakeStep());
        Outbox.Clear();
        return window;
    }
}

/// <summary>Entity id to grain reference: CPUs first, then mms, keyed by (index, run key and partition).</summary>
public static class EntityGrains
{
    public static ISimEntityGrain Get(IGrainFactory factory, bool isCpu, int entity, string keyExtension) =>
        isCpu ? factory.GetGrain<ICpuGrain>(entity, keyExtension) : factory.GetGrain<IMmGrain>(entity, keyExtension);
}
