using System.Collections.Concurrent;
using Shootdown.Model.Kernel;
using Shootdown.Model.Simulation;
using Shootdown.Scenarios;

namespace Shootdown.Grains;

/// <summary>
/// Per silo: parses a run's scenario once and shares the immutable <see cref="SimulationSetup"/>
/// (topology, costs, workload) among that silo's entity grains. Mutable state stays in the grains.
/// </summary>
public sealed class SimulationCatalog
{
    private readonly ConcurrentDictionary<string, Lazy<SimulationSetup>> _setups = new();

    public SimulationSetup Get(RunSpec spec) =>
        _setups.GetOrAdd(spec.RunKey, _ => new Lazy<SimulationSetup>(() => Build(spec))).Value;

    public void Forget(string runKey) => _setups.TryRemove(runKey, out _);

    private static SimulationSetup Build(RunSpec spec)
    {
        var scenario = ScenarioLoader.Parse(spec.ScenarioFile, spec.ScenarioText);
        var policy = KernelPolicy.Find(spec.Policy) ?? throw new ArgumentException($"unknown policy '{spec.Policy}'");
        return scenario.SetupFor(policy);
    }
}
