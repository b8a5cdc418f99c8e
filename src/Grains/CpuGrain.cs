using System.Collections.Immutable;
using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Model.Safety;

namespace Shootdown.Grains;

/// <summary>
/// One simulated CPU, on the silo of the partition that drives it. Its last call ends it: the
/// collect, or the safety check when the run has walkers, so that ending a run costs no call of its own.
/// </summary>
[PartitionPlacement, KeepAlive]
public sealed class CpuGrain(SimulationCatalog catalog) : SimEntityGrain(catalog), ICpuGrain
{
    public Task<CpuReport> Collect()
    {
        var cpu = (Cpu)Runner.Entity;
        var report = new CpuReport(CpuCounters.From(cpu.Id, cpu.Stats), [.. cpu.CompletedOps], [.. cpu.Retires]);
        if (!Run.Setup.ChecksSafety) Finish();
        return Task.FromResult(report);
    }

    public Task<CpuSafety> CheckSafety(ImmutableArray<TableRetire> orderedRetires)
    {
        var cpu = (Cpu)Runner.Entity;
        var verdict = SafetyChecker.CheckCpu(Run.Setup.SafetyRun, cpu.Walks, orderedRetires);
        Finish();
        return Task.FromResult(verdict);
    }
}

/// <summary>One process address space: mm_cpumask, tlb_gen and the shared PMD table count.</summary>
[PartitionPlacement, KeepAlive]
public sealed class MmGrain(SimulationCatalog catalog) : SimEntityGrain(catalog), IMmGrain;
