using Shootdown.Engine;
using Shootdown.Model.Simulation;
using Shootdown.Telemetry;
using Shootdown.Model.Kernel;

namespace Shootdown.Grains;

/// <summary>What a silo's grains share for one run: the immutable setup, its synchronisation contract, and where sampled operations become spans.</summary>
public sealed record SiloRun(SimulationSetup Setup, SyncContract Contract, KernelSpans Spans);

/// <summary>
/// Per silo: builds a run's immutable <see cref="SimulationSetup"/> (topology, costs, workload)
/// once and shares it among that silo's grains. The coordinator and each partition on the silo
/// hold a reference; the run is forgotten when the last lets go. Mutable state stays in the grains.
/// </summary>
public sealed class SimulationCatalog
{
    private readonly Dictionary<string, (Lazy<SiloRun> Run, int Holders)> _runs = new();

    /// <summary>Takes a reference to the run, building it on the first.</summary>
    public SiloRun Register(RunSpec spec)
    {
        Lazy<SiloRun> run;
        lock (_runs)
        {
            var (existing, holders) = _runs.GetValueOrDefault(spec.RunKey);
            run = existing ?? new Lazy<SiloRun>(() => Build(spec));
            _runs[spec.RunKey] = (run, holders + 1);
        }
        return run.Value;
    }

    /// <summary>The run a coordinator or partition on this silo registered: entities are placed beside their partition.</summary>
    public SiloRun Get(string runKey)
    {
        lock (_runs)
        {
            return _runs.TryGetValue(runKey, out var entry)
                ? entry.Run.Value
                : throw new InvalidOperationException($"run {runKey} is not registered on this silo: an entity was placed away from its partition");
        }
    }

    public void Release(string runKey)
    {
        lock (_runs)
        {
            if (!_runs.TryGetValue(runKey, out var entry)) return;
            if (entry.Holders <= 1) _runs.Remove(runKey);
            else _runs[runKey] = (entry.Run, entry.Holders - 1);
        }
    }

    private static SiloRun Build(RunSpec spec)
    {
        var setup = SimulationDefinition.FromJson(spec.DefinitionJson).SetupFor(SimulationDefinition.PolicyFromJson(spec.PolicyJson));
        return new SiloRun(setup, new SyncContract(setup), new KernelSpans(setup, spec.TraceSampleRatio, spec.Scenario, spec.RunId));
    }
}
