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
    Machine Machine,
    ulong Seed,
    long DurationNs,
    ImmutableArray<KernelPolicy> Policies,
    CostModel Costs,
    MachineFeatures Features,
    WorkloadSpec Workload)
{
    public SimulationDefinition Definition => new(Machine, Costs, Features, Workload, Seed, DurationNs);

    public SimulationSetup SetupFor(KernelPolicy policy, Model.Tracing.FtraceWindow? ftrace = null) => Definition.SetupFor(policy, ftrace);
}

/// <summary>One point of a sweep: the values it gave the swept parameters, and the scenario they make.</summary>
public sealed record SweepPoint(ImmutableArray<string> Values, Scenario Scenario);

/// <summary>
/// A scenario file: one scenario, or a sweep's points (parameters are the swept paths), and the
/// command-line overrides put into it.
/// </summary>
public sealed record ScenarioFile(string Path, ImmutableArray<string> SweepParameters, ImmutableArray<SweepPoint> Points,
    ImmutableArray<ScenarioOverride> Overrides = default)
{
    public bool IsSweep => !SweepParameters.IsEmpty;
}
