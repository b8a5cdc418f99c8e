using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Orleans.Concurrency;
using Shootdown.Engine;
using Shootdown.Model.Safety;
using Shootdown.Engine.Checkpoints;
using Shootdown.Grains.Checkpoints;
using Shootdown.Model.Simulation;
using Shootdown.Protocol;

namespace Shootdown.Grains;

/// <summary>
/// One partition of a run (see <see cref="PartitionWindows"/>), placed with its entities. Per
/// window: one call from the coordinator, one call per due entity carrying the events that
/// waited for it, and one batch per other partition its entities sent to. Kept in memory until
/// its run ends it, however long no window needs it (<see cref="RunLease"/>).
/// </summary>
[PartitionPlacement, KeepAlive]
public sealed class PartitionGrain(SimulationCatalog catalog, ILocalSiloDetails localSilo, ICheckpointStore checkpoints, CheckpointKey key)
    : Grain, IPartitionGrain, IPartitionTransport
{
    private string _runKey = "";
    private PartitionProtocol? _protocol;
    private Dictionary<int, ISimEntityGrain> _members = new();
    private IPartitionGrain[] _peers = [];
    private long _entityCalls;
    private long _batchCalls;

    private PartitionProtocol Protocol => _protocol ?? throw new InvalidOperationException("the partition was not prepared");
    private PartitionWindows Windows => Protocol.Windows;

    public Task<string> Prepare(PartitionPlan plan)
    {
        var partition = (int)this.GetPrimaryKeyLong(out var extension);
        _runKey = plan.Spec.RunKey;
        var run = catalog.Register(plan.Spec);
        var setup = run.Setup;
        var map = new PartitionMap(setup.CpuCount, setup.ProcessCount, plan.Partitions);
        _protocol = new PartitionProtocol(new PartitionWindows(run.Contract, map, partition), this);
        _members = Windows.Members.ToDictionary(id => id, id => EntityGrains.Get(GrainFactory, setup.IsCpu(id), id, extension!));
        _peers = Enumerable.Range(0, map.Count)
            .Select(p => GrainFactory.GetGrain<IPartitionGrain>(p, PartitionKeys.Extension(plan.Spec, p))).ToArray();
        return Task.FromResult(localSilo.SiloAddress.Endpoint.ToString());
    }

    public async Task<PartitionReport> Start() => Report(await Protocol.Start());

    public async Task Checkpoint(int number)
    {
        var members = Windows.Members;
        var states = await BoundedFanout.Call(members, id => _members[id].Snapshot());
        _entityCalls += members.Count;
        var (waiting, masks) = Protocol.Waiting();
        var part = new PartitionCheckpoint(waiting, masks, [.. members], [.. states.Select(s => (ReadOnlyMemory<byte>)s.Value)]);
        await checkpoints.Put(CheckpointKeys.Part(_runKey, number, Windows.Partition),
            CheckpointSeal.Seal(new CheckpointIdentity(_runKey, number, Windows.Partition), key.Bytes, part.Segments()));
    }

    public async Task<PartitionReport> Restore(CheckpointRef from)
    {
        var id = new CheckpointIdentity(from.RunKey, from.Number, Windows.Partition);
        var stored = await checkpoints.Get(CheckpointKeys.Part(from.RunKey, from.Number, Windows.Partition))
                     ?? throw new CheckpointRefusedFault($"checkpoint part {id} refused: it is missing from the store");
        PartitionCheckpoint part;
        try
        {
            // Opened (whole, unchanged, this build's, the part asked for) before anything in it is decoded.
            part = PartitionCheckpoint.Read(CheckpointSeal.Open(stored, id, key.Bytes));
        }
        catch (CheckpointRefusedException e)
        {
            throw new CheckpointRefusedFault(e.Message);
        }
        catch (InvalidDataException e)
        {
            // Sealed by this build and intact, yet not what this build writes: refused all the same.
            throw new CheckpointRefusedFault($"checkpoint part {id} refused: {e.Message}");
        }
        if (!part.Entities.SequenceEqual(Windows.Members))
            throw new CheckpointRefusedFault($"checkpoint part {id} refused: it holds other entities than partition {Windows.Partition} of {from.Partitions}");
        var members = Windows.Members;
        EntityWindow[] restored;
        try
        {
            restored = await BoundedFanout.Call(Enumerable.Range(0, members.Count).ToList(), i => _members[members[i]].Restore(part.States[i].AsImmutable()));
        }
        catch (InvalidDataException e)
        {
            throw new CheckpointRefusedFault($"checkpoint part {id} refused: an entity's state: {e.Message}");
        }
        _entityCalls += members.Count;
        return Report(await Protocol.Restored([.. restored.Select(w => w.Step)], part.Waiting.Single(), part.WaitingMasks));
    }

    public async Task<PartitionReport> RunWindow(EntityTimes safe, long window) => Report(await Protocol.RunWindow(safe, window));

    public Task Deliver(PartitionBatch batch, long window)
    {
        Protocol.Deliver(ImmutableCollectionsMarshal.AsArray(batch.Events)!, batch.Masks.AsMemory(), window);
        return Task.CompletedTask;
    }

    private PartitionReport Report(PartitionStep step) => new(step, _entityCalls, _batchCalls);

    // The Orleans transport: entities and the other partitions are grains.

    async ValueTask<EntityStep[]> IPartitionTransport.Start(IReadOnlyList<int> entities)
    {
        var started = await BoundedFanout.Call(entities, id => _members[id].Start());
        _entityCalls += entities.Count;
        return [.. started.Select(w => w.Step)];
    }

    async ValueTask<EntityStep[]> IPartitionTransport.Run(List<DueEntity> due)
    {
        var ran = await BoundedFanout.Call(due, d => _members[d.Entity].RunWindow(new EntityInput(d.RunTo,
            ImmutableCollectionsMarshal.AsImmutableArray(d.Events.Runs()), ImmutableCollectionsMarshal.AsImmutableArray(d.Masks))));
        // Every call has answered: each entity has read its events where they lay (or they went
        // over the wire), and their chunks serve the partition again.
        foreach (var d in due) Windows.Handed(d.Events);
        _entityCalls += due.Count;
        return [.. ran.Select(w => w.Step)];
    }

    async ValueTask IPartitionTransport.Send(List<PartitionBatchOut> batches, long window)
    {
        await Task.WhenAll(batches.Select(b => _peers[b.Partition].Deliver(new PartitionBatch(Windows.Partition,
            ImmutableCollectionsMarshal.AsImmutableArray(b.Events), ImmutableCollectionsMarshal.AsImmutableArray(b.Masks)), window)));
        _batchCalls += batches.Count;
    }

    public async Task<ImmutableArray<CpuReport>> Collect()
    {
        var cpus = CpuMembers();
        var reports = await BoundedFanout.Call(cpus, cpu => cpu.Collect());
        _entityCalls += cpus.Count;
        return [.. reports];
    }

    public async Task<ImmutableArray<CpuSafety>> CheckSafety(ImmutableArray<TableRetire> orderedRetires)
    {
        var cpus = CpuMembers();
        var checks = await BoundedFanout.Call(cpus, cpu => cpu.CheckSafety(orderedRetires));
        _entityCalls += cpus.Count;
        return [.. checks];
    }

    public async Task<PartitionCalls> End()
    {
        var mms = _members.Values.Where(m => m is not ICpuGrain).ToList();
        await BoundedFanout.Call(mms, m => m.End());
        _entityCalls += mms.Count;
        catalog.Release(_runKey);
        _protocol = null;
        _members = new();
        DeactivateOnIdle();
        return new PartitionCalls(_entityCalls, _batchCalls);
    }

    public async Task Abandon()
    {
        if (_protocol is not null)
        {
            await BoundedFanout.Call(_members.Values.ToList(), m => m.End());
            catalog.Release(_runKey);
        }
        _protocol = null;
        _members = new();
        DeactivateOnIdle();
    }

    /// <summary>The member CPUs, in ascending order.</summary>
    private List<ICpuGrain> CpuMembers() => Windows.Members.Select(id => _members[id]).OfType<ICpuGrain>().ToList();
}
