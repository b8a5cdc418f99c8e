using System.Collections.Concurrent;
using Shootdown.Model.Simulation;
using Shootdown.Telemetry;

namespace Shootdown.Grains;

/// <summary>What a silo's grains share for one run: the immutable setup, and where sampled operations become spans.</summary>
public sealed record SiloRun(SimulationSetup Setup, KernelSpans Spans);

/// <summary>
/// Per silo: builds a run's immutable <see cref="SimulationSetup"/> (topology, costs, workload)
/// once and shares it among that silo's entity grains. Mutable state stays in the grains.
/// </summary>
public sealed class SimulationCatalog
{
    private readonly ConcurrentDictionary<string, Lazy<Task<SiloRun>>> _runs = new();

    /// <summary>The run grain's own silo: it holds the spec already.</summary>
    public SiloRun Register(RunSpec spec)
    {
        var run = Build(spec);
        _runs[spec.RunKey] = new Lazy<Task<SiloRun>>(Task.FromResult(run));
        return run;
    }

    /// <summary>Other silos: the first entity to ask fetches the spec; the rest await the same build.</summary>
    public Task<SiloRun> GetAsync(string runKey, Func<Task<RunSpec>> fetch) =>
        _runs.GetOrAdd(runKey, _ => new Lazy<Task<SiloRun>>(async () => Build(await fetch()))).Value;

    public void Forget(string runKey) => _runs.TryRemove(runKey, out _);

    private static SiloRun Build(RunSpec spec)
    {
        var setup = SimulationDefinition.FromJson(spec.DefinitionJson).SetupFor(SimulationDefinition.PolicyFromJson(spec.PolicyJson));
        return new SiloRun(setup, new KernelSpans(setup, spec.TraceSampleRatio, spec.Scenario, spec.RunId));
    }
}
