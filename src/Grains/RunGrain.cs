using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Shootdown.Engine;
using Shootdown.Grains.Checkpoints;
using Shootdown.Model.Safety;
using Shootdown.Telemetry;

namespace Shootdown.Grains;

/// <summary>
/// The coordinator of one policy's run: the Orleans transport of a <see cref="WindowCoordinator"/>.
/// It holds no model state and never calls an entity: per window it makes one call to each due
/// partition, and each partition reduces its entities' frontiers to one. It also takes the run's
/// checkpoints at window barriers.
/// </summary>
[KeepAlive]
public sealed class RunGrain(SimulationCatalog catalog, ILocalSiloDetails localSilo, IClusterMembershipService membership, ICheckpointStore checkpoints,
    Microsoft.Extensions.Options.IOptions<RunLeaseOptions> lease, ILogger<RunGrain> logger) : RunLease(lease), IRunGrain
{
    private RunSpec? _spec;
    private WindowCoordinator? _windows;
    private IPartitionGrain[] _partitions = [];
    private PartitionReport[] _latest = [];
    private int _silos;
    private long _coordinatorCalls;
    private bool _done;
    // Checkpoints: the latest complete one (after a resume, the one resumed from, whichever run
    // took it), the one before it (kept until the client has seen the latest), the windows run
    // before the resume, and what the policy counts since the latest.
    private CheckpointRef? _checkpoint;
    private CheckpointRef? _previous;
    private long _windowsBefore;
    private int _windowsSinceCheckpoint;
    private int _checkpointsSkipped;
    // Wall time only decides at which window barrier a checkpoint is taken. Taking one reads
    // state and changes none, so no result depends on it (the resume tests compare digests).
    private readonly Stopwatch _sinceCheckpoint = new();

    /// <summary>
    /// Partitions per silo when the run names none: one per core of this silo. A partition is
    /// the unit that fans out to entities and reduces their bounds, and Orleans' fan-out ceiling
    /// is per coordinating grain (one coordinator tops out whatever the core count; one per core
    /// scales, ../shared/bench/orleans-fanout); more than one per core only adds batches between
    /// partitions, whose number grows with the square of the partition count.
    /// </summary>
    private static int DefaultPartitionsPerSilo => Environment.ProcessorCount;

    public async Task<RunPlacement> Begin(RunSpec spec)
    {
        _spec = spec;
        var (setup, contract, _) = catalog.Register(spec);
        // This silo's view of membership, not a read of the membership table: a run must not
        // fail to start because the store is paused or failing over (the view is at most one
        // table refresh behind, and the count only sizes the default partitioning).
        _silos = membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active);
        // A run with a home spans one silo; otherwise every silo.
        // A resumed run keeps the checkpoint's partitions: each part holds one partition's entities.
        var partitions = spec.ResumeFrom?.Partitions
                         ?? (spec.Partitions > 0 ? spec.Partitions : Math.Min(setup.CpuCount, (spec.Home >= 0 ? 1 : _silos) * DefaultPartitionsPerSilo));
        if (partitions > setup.CpuCount)
            throw new ArgumentOutOfRangeException(nameof(spec), partitions, $"a run of {setup.CpuCount} CPUs takes at most {setup.CpuCount} partitions");
        _windows = new WindowCoordinator(partitions, contract);
        _partitions = Enumerable.Range(0, partitions)
            .Select(p => GrainFactory.GetGrain<IPartitionGrain>(p, PartitionKeys.Extension(spec, p))).ToArray();
        _latest = new PartitionReport[partitions];
        var placed = Array.Empty<string>();
        var reports = await EngineSpans.InDetachedSpan("engine.start", async span =>
        {
            span?.SetTag("shootdown.policy", spec.Policy);
            span?.SetTag("engine.entities", setup.EntityCount);
            span?.SetTag("engine.partitions", partitions);
            var plan = new PartitionPlan(spec, partitions);
            placed = await Task.WhenAll(_partitions.Select(p => p.Prepare(plan)));
            return spec.ResumeFrom is { } from
                ? await Task.WhenAll(_partitions.Select(p => p.Restore(from)))
                : await Task.WhenAll(_partitions.Select(p => p.Start()));
        });
        if (spec.ResumeFrom is { } resumed)
        {
            // The broken run kept the checkpoint before this one too: it is dropped with the next.
            (_checkpoint, _previous) = (resumed, spec.Fallback ?? (resumed.Number > 1 ? resumed with { Number = resumed.Number - 1 } : null));
            _windowsBefore = resumed.Windows;
            _windows.ResumeAt(resumed.VirtualTimeNs, resumed.SpanEvents);
        }
        _sinceCheckpoint.Restart();
        _coordinatorCalls += 2 * partitions;
        Apply(Enumerable.Range(0, partitions).ToList(), reports);
        return new RunPlacement(localSilo.SiloAddress.Endpoint.ToString(), [.. placed.Distinct().Order(StringComparer.Ordinal)]);
    }

    public async Task<RunProgress> Advance(int wallBudgetMs)
    {
        var windows = _windows ?? throw new InvalidOperationException("Begin first");
        // Wall time only decides how many windows this call runs before reporting progress, and
        // feeds the events-per-second metric; the windows themselves, and so every result, are
        // the same however the calls are cut. Nothing read from this clock reaches the model.
        var clock = Stopwatch.StartNew();
        var eventsBefore = EventsProcessed;
        while (!_done && clock.ElapsedMilliseconds < wallBudgetMs)
        {
            if (!windows.TryNextWindow(out var safe, out var due))
            {
                _done = true;
                break;
            }
            var callsBefore = Stats().GrainCalls;
            var reports = await EngineSpans.InDetachedSpan("engine.window", async span =>
            {
                span?.SetTag("shootdown.policy", _spec!.Policy);
                span?.SetTag(Instrumentation.RunIdTag, _spec!.RunId);
                span?.SetTag("engine.window", Windows);
                span?.SetTag("engine.safe_time_cpu_ns", safe.Cpu);
                span?.SetTag("engine.safe_time_mm_ns", safe.Mm);
                span?.SetTag("engine.due_partitions", due.Count);
                var window = windows.Windows;
                return await Task.WhenAll(due.Select(p => _partitions[p].RunWindow(safe, window)));
            });
            _coordinatorCalls += due.Count;
            Apply(due, reports);
            EngineMetrics.Window("grains", _spec!.Policy, Stats().GrainCalls - callsBefore);
            _windowsSinceCheckpoint++;
            if (!CheckpointDue()) continue;
            await TakeCheckpoint();
            // Reported at once, so the client always knows a checkpoint that is still kept.
            break;
        }
        EngineMetrics.Progress("grains", _spec!.Policy, EventsProcessed - eventsBefore, clock.Elapsed);
        return new RunProgress(VirtualTime, _done, Stats(), _checkpoint);
    }

    private bool CheckpointDue()
    {
        if (_done || _spec!.Checkpoints is not { } policy) return false;
        return policy.Windows > 0 && _windowsSinceCheckpoint >= policy.Windows
               || policy.WallMs > 0 && _sinceCheckpoint.ElapsedMilliseconds >= policy.WallMs;
    }

    /// <summary>
    /// A global checkpoint at this window barrier: every partition writes its part (its entities'
    /// states and the events waiting for them); the checkpoint is complete, and reported, only
    /// when all have. The one before the previous is then dropped.
    /// </summary>
    private async Task TakeCheckpoint()
    {
        var number = (_checkpoint?.Number ?? 0) + 1;
        var written = await WriteCheckpoint(number);
        _coordinatorCalls += _partitions.Length;
        if (written)
        {
            var dropped = _previous;
            (_previous, _checkpoint) = (_checkpoint, new CheckpointRef(_spec!.RunKey, number, _partitions.Length, Windows, VirtualTime, _windows!.SpanEvents));
            if (dropped is not null) await DeleteParts(CheckpointKeys.Parts(dropped.RunKey, dropped.Number, dropped.Partitions));
        }
        _windowsSinceCheckpoint = 0;
        _sinceCheckpoint.Restart();
    }

    /// <summary>
    /// Every partition writes its part. A checkpoint the store cannot take is skipped: the run goes
    /// on, and a lost silo would resume from the last complete one (or time 0); the parts that were
    /// written expire with the store's other keys.
    /// </summary>
    private async Task<bool> WriteCheckpoint(int number)
    {
        try
        {
            await EngineSpans.InDetachedSpan("engine.checkpoint", async span =>
            {
                span?.SetTag("shootdown.policy", _spec!.Policy);
                span?.SetTag("engine.checkpoint", number);
                await Task.WhenAll(_partitions.Select(p => p.Checkpoint(number)));
                return 0;
            });
            return true;
        }
        catch (CheckpointStoreFault fault)
        {
            _checkpointsSkipped++;
            logger.LogWarning("{Policy}: checkpoint {Number} skipped: {Fault}", _spec!.Policy, number, fault.Message);
            return false;
        }
    }

    /// <summary>Drops checkpoint parts no one will resume from; a store that fails to is no reason to fail the run (the parts expire).</summary>
    private async Task DeleteParts(IReadOnlyList<string> keys)
    {
        try
        {
            await checkpoints.Delete(keys);
        }
        catch (CheckpointStoreFault fault)
        {
            logger.LogWarning("{Policy}: old checkpoint parts left to expire: {Fault}", _spec?.Policy, fault.Message);
        }
    }

    /// <summary>The parts of the (at most two) checkpoints this run keeps, inherited ones included.</summary>
    private IReadOnlyList<string> KeptParts() =>
        [.. new[] { _checkpoint, _previous }.OfType<CheckpointRef>().SelectMany(c => CheckpointKeys.Parts(c.RunKey, c.Number, c.Partitions))];

    /// <summary>Windows this policy has run, before a resume included.</summary>
    private long Windows => _windowsBefore + (_windows?.Windows ?? 0);

    private long VirtualTime => _windows?.VirtualTime ?? 0;

    private void Apply(List<int> partitions, PartitionReport[] reports)
    {
        for (var i = 0; i < partitions.Count; i++) _latest[partitions[i]] = reports[i];
        _windows!.Apply(partitions, [.. reports.Select(r => r.Step)]);
    }

    private long EventsProcessed => _windows?.EventsProcessed ?? 0;

    private EngineStats Stats(PartitionCalls[]? final = null) => new(_silos, _partitions.Length, Windows, _coordinatorCalls,
        final?.Sum(c => c.EntityCalls) ?? _latest.Sum(r => r?.EntityCalls ?? 0),
        final?.Sum(c => c.BatchCalls) ?? _latest.Sum(r => r?.BatchCalls ?? 0), _checkpointsSkipped, _windows?.SpanEvents ?? 0);

    public Task Abandon()
    {
        if (_spec is not null) catalog.Release(_spec.RunKey);
        _spec = null;
        _windows = null;
        Ended();
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    /// <summary>
    /// A run its client has not called for a lease: its partitions end their entities, the
    /// coordinator goes, and its checkpoints with it, since no client will resume from them.
    /// (A run its client abandons after losing a silo keeps them: the next run resumes from them.)
    /// </summary>
    protected override async Task Expire()
    {
        var partitions = _partitions;
        await DeleteParts(KeptParts());
        await Abandon();
        try
        {
            await Task.WhenAll(partitions.Select(p => p.Abandon()));
        }
        catch (Exception)
        {
            // A partition whose silo is gone has nothing left to free.
        }
    }

    public async Task<RunReport> Collect()
    {
        var spec = _spec ?? throw new InvalidOperationException("Begin first");
        if (!_done) throw new InvalidOperationException("the run has not finished");
        var (cpus, safety, calls) = await EngineSpans.InDetachedSpan("engine.collect", async span =>
        {
            span?.SetTag("shootdown.policy", spec.Policy);
            // Partitions deal CPUs out in blocks: their answers are put back in CPU order.
            var collected = (await Task.WhenAll(_partitions.Select(p => p.Collect()))).SelectMany(c => c).OrderBy(c => c.Counters.Cpu).ToList();
            _coordinatorCalls += _partitions.Length;
            SafetyReport? safety = null;
            if (catalog.Get(spec.RunKey).Setup.ChecksSafety)
            {
                // Every CPU checks its own walks against every retired table: the walks never travel.
                var retires = SafetyChecker.Order(collected.SelectMany(c => c.Retires));
                var checks = await Task.WhenAll(_partitions.Select(p => p.CheckSafety(retires)));
                _coordinatorCalls += _partitions.Length;
                safety = SafetyChecker.Report(retires, checks.SelectMany(c => c));
            }
            var calls = await Task.WhenAll(_partitions.Select(p => p.End()));
            _coordinatorCalls += _partitions.Length;
            return (collected, safety, calls);
        });
        await DeleteParts(KeptParts());
        catalog.Release(spec.RunKey);
        Ended();
        DeactivateOnIdle();
        return new RunReport(spec.Policy, _windows!.LastEventTime, EventsProcessed, [.. cpus], Stats(calls), safety);
    }
}
