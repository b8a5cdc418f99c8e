using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Model.Safety;

namespace Shootdown.Grains;

/// <summary>One simulated CPU, on the silo of the partition that drives it.</summary>
[PartitionPlacement]
public sealed class CpuGrain(SimulationCatalog catalog) : SimEntityGrain(catalog), ICpuGrain
{
    public Task<CpuReport> Collect()
    {
        var cpu = (Cpu)Runner.Entity;
        return Task.FromResult(new CpuReport(CpuCounters.From(cpu.Id, cpu.Stats), [.. cpu.CompletedOps], SafetyJson.Retires(cpu.Retires)));
    }

    public Task<string> CheckSafety(string orderedRetiresJson)
    {
        var cpu = (Cpu)Runner.Entity;
        return Task.FromResult(SafetyJson.Cpu(SafetyChecker.CheckCpu(Run.Setup, cpu.Walks, SafetyJson.ReadRetires(orderedRetiresJson))));
    }
}

/// <summary>One process address space: mm_cpumask, tlb_gen and the shared PMD table count.</summary>
[PartitionPlacement]
public sealed class MmGrain(SimulationCatalog catalog) : SimEntityGrain(catalog), IMmGrain;
