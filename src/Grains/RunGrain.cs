using System.Diagnostics;
using Shootdown.Engine;
using Shootdown.Model.Safety;
using Shootdown.Model.Simulation;
using Shootdown.Telemetry;

namespace Shootdown.Grains;

/// <summary>
/// The coordinator of one policy's run. It holds no model state: it only knows, per entity,
/// the earliest time it could send another entity anything, and calls the entities due in
/// each window (see <see cref="WindowScheduler"/>).
/// </summary>
public sealed class RunGrain(SimulationCatalog catalog) : Grain, IRunGrain
{
    private RunSpec? _spec;
    private SimulationSetup? _setup;
    private WindowScheduler? _windows;
    private ISimEntityGrain[] _entities = [];
    private long _virtualTime;
    private long _grainCalls;
    private bool _done;
    private long[] _eventsProcessed = [];
    private long _eventsTotal;
    private long[] _lastEventTime = [];

    public async Task Begin(RunSpec spec)
    {
        _spec = spec;
        _setup = catalog.Register(spec).Setup;
        _windows = new WindowScheduler(_setup.EntityCount, _setup.WindowHorizon);
        var setup = _setup;
        _entities = Enumerable.Range(0, setup.EntityCount).Select(id => EntityGrains.Get(GrainFactory, setup, id, spec.RunKey)).ToArray();
        _eventsProcessed = new long[setup.EntityCount];
        _lastEventTime = new long[setup.EntityCount];
        var reports = await EngineSpans.InDetachedSpan("engine.start", async span =>
        {
            span?.SetTag("shootdown.policy", spec.Policy);
            span?.SetTag("engine.entities", _entities.Length);
            await Task.WhenAll(_entities.Select(e => e.Init(spec.RunKey)));
            return await Task.WhenAll(_entities.Select(e => e.Start()));
        });
        _grainCalls += 2 * _entities.Length;
        Apply(Enumerable.Range(0, reports.Length).ToList(), reports);
    }

    public Task<RunSpec> Spec() => Task.FromResult(_spec ?? throw new InvalidOperationException("Begin first"));

    public async Task<RunProgress> Advance(int wallBudgetMs)
    {
        _ = _setup ?? throw new InvalidOperationException("Begin first");
        var windows = _windows!;
        // Wall time only decides how many windows this call runs before reporting progress, and
        // feeds the events-per-second metric; the windows themselves, and so every result, are
        // the same however the calls are cut. Nothing read from this clock reaches the model.
        var clock = Stopwatch.StartNew();
        var eventsBefore = _eventsTotal;
        while (!_done && clock.ElapsedMilliseconds < wallBudgetMs)
        {
            if (!windows.TryNextWindow(out var safeTime, out var due))
            {
                _done = true;
                break;
            }
            var calls = _grainCalls;
            var reports = await EngineSpans.InDetachedSpan("engine.window", async span =>
            {
                span?.SetTag("shootdown.policy", _spec!.Policy);
                span?.SetTag(Instrumentation.RunIdTag, _spec!.RunId);
                span?.SetTag("engine.window", windows.Windows);
                span?.SetTag("engine.safe_time_ns", safeTime);
                span?.SetTag("engine.due_entities", due.Count);
                return await RunWindowBounded(due, safeTime);
            });
            _grainCalls += due.Count;
            Apply(due, reports);
            EngineMetrics.Window("grains", _spec!.Policy, _grainCalls - calls);
            _virtualTime = safeTime;
        }
        EngineMetrics.Progress("grains", _spec!.Policy, _eventsTotal - eventsBefore, clock.Elapsed);
        return new RunProgress(_virtualTime, _done, windows.Windows, _grainCalls);
    }

    /// <summary>
    /// At most this many entities run a window at once. A storm's first window has hundreds of
    /// initiators each building a batch for every CPU; letting them all do so together only
    /// multiplies the memory held at once, not the throughput of two cores.
    /// </summary>
    private const int MaxConcurrentEntities = 64;

    private async Task<WindowReport[]> RunWindowBounded(List<int> due, long safeTime)
    {
        var reports = new WindowReport[due.Count];
        var next = 0;
        async Task Worker()
        {
            // Grain turns are single-threaded: the shared cursor needs no lock.
            while (next < due.Count)
            {
                var i = next++;
                reports[i] = await _entities[due[i]].RunWindow(safeTime);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, Math.Min(MaxConcurrentEntities, due.Count)).Select(_ => Worker()));
        return reports;
    }

    /// <summary>
    /// Records a window's reports. Each entity's own earliest output comes first and deliveries
    /// after: a batch can reach an entity after it computed its bound, so only the minimum of
    /// the two is safe.
    /// </summary>
    private void Apply(IReadOnlyList<int> entities, WindowReport[] reports)
    {
        for (var i = 0; i < entities.Count; i++)
        {
            _windows!.Set(entities[i], reports[i].EarliestOutputTime);
            _eventsTotal += reports[i].EventsProcessed - _eventsProcessed[entities[i]];
            _eventsProcessed[entities[i]] = reports[i].EventsProcessed;
            _lastEventTime[entities[i]] = reports[i].LastEventTime;
        }
        foreach (var report in reports)
        {
            for (var t = 0; t < report.Targets.Length; t++) _windows!.Delivered(report.Targets[t], report.EarliestSentOutput[t]);
            _grainCalls += report.Targets.Length;
        }
    }

    public async Task<RunReport> Collect()
    {
        var setup = _setup ?? throw new InvalidOperationException("Begin first");
        if (!_done) throw new InvalidOperationException("the run has not finished");
        var cpus = await EngineSpans.InDetachedSpan("engine.collect", async span =>
        {
            span?.SetTag("shootdown.policy", _spec!.Policy);
            var cpuGrains = _entities.Take(setup.CpuCount).Cast<ICpuGrain>().ToList();
            var collected = await Task.WhenAll(cpuGrains.Select(cpu => cpu.Collect()));
            SafetyReport? safety = null;
            if (setup.ChecksSafety)
            {
                // Every CPU checks its own walks against every retired table: the walks never travel.
                var retires = SafetyChecker.Order(collected.SelectMany(c => SafetyJson.ReadRetires(c.RetiresJson)));
                var json = SafetyJson.Retires(retires);
                var checks = await Task.WhenAll(cpuGrains.Select(cpu => cpu.CheckSafety(json)));
                safety = SafetyChecker.Report(retires, checks.Select(SafetyJson.ReadCpu));
                _grainCalls += checks.Length;
            }
            await Task.WhenAll(_entities.Select(e => e.End()));
            return (collected, safety);
        });
        _grainCalls += cpus.collected.Length;
        _grainCalls += setup.EntityCount;
        catalog.Forget(_spec!.RunKey);
        DeactivateOnIdle();
        return new RunReport(_spec.Policy, _lastEventTime.Max(), _eventsProcessed.Sum(), [.. cpus.collected], _windows!.Windows, _grainCalls, SafetyJson.Report(cpus.safety));
    }
}
