using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Model.Safety;
using Shootdown.Model.Simulation;

namespace Shootdown.Engine;

/// <summary>
/// A run's result from CPUs this process holds (the reference and in-process parallel engines):
/// each CPU checks its own walks against every retired table, as the grains' CPUs do, and
/// <see cref="PolicyResult.Collect"/> puts the result together as it does for every engine.
/// </summary>
public static class InProcessResult
{
    public static PolicyResult Collect(SimulationSetup setup, long endNs, long events, IReadOnlyCollection<Cpu> cpus)
    {
        SafetyReport? safety = null;
        if (setup.ChecksSafety)
        {
            var retires = SafetyChecker.Order(cpus.SelectMany(c => c.Retires));
            safety = SafetyChecker.Report(retires, cpus.Select(c => SafetyChecker.CheckCpu(setup.SafetyRun, c.Walks, retires)));
        }
        return PolicyResult.Collect(setup.Policy.Name, endNs, events,
            cpus.Select(c => (CpuCounters.From(c.Id, c.Stats), (IEnumerable<OpRecord>)c.CompletedOps)), setup.RealtimeCpus, safety);
    }
}
