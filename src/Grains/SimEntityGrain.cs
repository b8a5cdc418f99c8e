using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Shootdown.Engine;
using Shootdown.Model.Simulation;

namespace Shootdown.Grains;

/// <summary>
/// What CPU and mm grains share: an <see cref="EntityRunner"/> around one model object, and the
/// delivery of its outbox to the destination grains, one call per destination per window.
/// </summary>
public abstract class SimEntityGrain(SimulationCatalog catalog) : Grain
{
    private readonly Dictionary<int, ISimEntityGrain> _peers = new();
    private EntityRunner? _runner;
    private SimulationSetup? _setup;
    private string _runKey = "";

    protected EntityRunner Runner => _runner ?? throw new InvalidOperationException("the grain was not started");
    protected SimulationSetup Setup => _setup ?? throw new InvalidOperationException("the grain was not started");

    public async Task Init(string runKey)
    {
        _runKey = runKey;
        var run = await catalog.GetAsync(runKey, () => GrainFactory.GetGrain<IRunGrain>(runKey).Spec());
        _setup = run.Setup;
        _runner = new EntityRunner(_setup.CreateEntity((int)this.GetPrimaryKeyLong(), run.Spans), _setup.Lookahead, _setup.EarliestOutput);
    }

    public async Task<WindowReport> Start()
    {
        Runner.Start();
        return await DeliverOutbox();
    }

    public Task Deliver(EventBatch batch)
    {
        Runner.Deliver(batch.Events, batch.Masks);
        return Task.CompletedTask;
    }

    public async Task<WindowReport> RunWindow(long windowEnd)
    {
        Runner.RunUntil(windowEnd);
        return await DeliverOutbox();
    }

    public Task End()
    {
        catalog.Forget(_runKey);
        _runner = null;
        _peers.Clear();
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    /// <summary>
    /// At most this many Deliver calls in flight per grain. A broadcast's first window sends one
    /// batch to every CPU; hundreds of initiators doing so at once would put millions of Orleans
    /// calls in flight, and their messages would dominate memory ("bound fan-out", Orleans' best
    /// practices). The order of delivery never matters: each runner orders its own queue.
    /// </summary>
    private const int MaxDeliveriesInFlight = 256;

    private async Task<WindowReport> DeliverOutbox()
    {
        var outbox = Runner.TakeOutbox();
        var targets = ImmutableArray.CreateBuilder<int>(outbox.Count);
        var earliestOutput = ImmutableArray.CreateBuilder<long>(outbox.Count);
        var calls = new List<Task>(Math.Min(outbox.Count, MaxDeliveriesInFlight));
        foreach (var (target, events, masks) in outbox)
        {
            targets.Add(target);
            earliestOutput.Add(events.Min(e => Setup.EarliestOutput(e)));
            if (!_peers.TryGetValue(target, out var peer)) _peers[target] = peer = EntityGrains.Get(GrainFactory, Setup, target, _runKey);
            // The outbox's arrays are fresh and never touched again: wrap them rather than copy.
            calls.Add(peer.Deliver(new EventBatch(ImmutableCollectionsMarshal.AsImmutableArray(events), ImmutableCollectionsMarshal.AsImmutableArray(masks))));
            if (calls.Count == MaxDeliveriesInFlight)
            {
                await Task.WhenAll(calls);
                calls.Clear();
            }
        }
        await Task.WhenAll(calls);
        return new WindowReport(Runner.EarliestOutputTime, targets.MoveToImmutable(), earliestOutput.MoveToImmutable(),
            Runner.EventsProcessed, Runner.LastEventTime);
    }
}

/// <summary>Entity id to grain reference: CPUs first, then mms, keyed by (index, run key).</summary>
public static class EntityGrains
{
    public static ISimEntityGrain Get(IGrainFactory factory, SimulationSetup setup, int entity, string runKey) =>
        setup.IsCpu(entity)
            ? factory.GetGrain<ICpuGrain>(entity, runKey)
            : factory.GetGrain<IMmGrain>(entity, runKey);
}
