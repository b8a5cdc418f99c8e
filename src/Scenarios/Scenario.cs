using System.Collections.Immutable;
using Shootdown.Model.Costs;
using Shootdown.Model.Kernel;
using Shootdown.Model.Simulation;
using Shootdown.Model.Topology;
using Shootdown.Model.Workload;

namespace Shootdown.Scenarios;

/// <summary>A parsed, validated scenario: one machine and workload, run once per policy.</summary>
public sealed record Scenario(
    string Name,
    string Description,
    string MachineSpec,
    Machine Machine,
    ulong Seed,
    long DurationNs,
    ImmutableArray<KernelPolicy> Policies,
    CostModel Costs,
    MachineFeatures Features,
    WorkloadSpec Workload)
{
    /// <summary>Where the scenario came from and its exact text, so grains on any silo can rebuild it.</summary>
    public string SourceFile { get; init; } = "";
    public string SourceText { get; init; } = "";

    public SimulationSetup SetupFor(KernelPolicy policy) =>
        new(Machine, Costs, policy, Features, Workload, Seed, DurationNs);
}
