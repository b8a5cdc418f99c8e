using System.Collections.Concurrent;
using Shootdown.Model.Simulation;

namespace Shootdown.Grains;

/// <summary>
/// Per silo: builds a run's immutable <see cref="SimulationSetup"/> (topology, costs, workload)
/// once and shares it among that silo's entity grains. Mutable state stays in the grains.
/// </summary>
public sealed class SimulationCatalog
{
    private readonly ConcurrentDictionary<string, Lazy<Task<SimulationSetup>>> _setups = new();

    /// <summary>The run grain's own silo: it holds the spec already.</summary>
    public SimulationSetup Register(RunSpec spec)
    {
        var setup = Build(spec);
        _setups[spec.RunKey] = new Lazy<Task<SimulationSetup>>(Task.FromResult(setup));
        return setup;
    }

    /// <summary>Other silos: the first entity to ask fetches the spec; the rest await the same build.</summary>
    public Task<SimulationSetup> GetAsync(string runKey, Func<Task<RunSpec>> fetch) =>
        _setups.GetOrAdd(runKey, _ => new Lazy<Task<SimulationSetup>>(async () => Build(await fetch()))).Value;

    public void Forget(string runKey) => _setups.TryRemove(runKey, out _);

    private static SimulationSetup Build(RunSpec spec) =>
        SimulationDefinition.FromJson(spec.DefinitionJson).SetupFor(SimulationDefinition.PolicyFromJson(spec.PolicyJson));
}
