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
/// <remarks>
/// A sweep's points are parsed when the file is loaded (so a bad point fails the load) and then
/// held only weakly: a 1,000-point sweep of 65,536-CPU machines would otherwise hold gigabytes of
/// scenarios nobody is using. A point collected meanwhile is parsed again from its own document,
/// to the same scenario.
/// </remarks>
public sealed class SweepPoint
{
    private readonly Func<Scenario>? _parse;
    private readonly WeakReference<Scenario>? _weak;
    private readonly Scenario? _held;

    /// <summary>A point held for as long as the file is (a scenario without a sweep).</summary>
    public SweepPoint(ImmutableArray<string> values, Scenario scenario) => (Values, _held) = (values, scenario);

    /// <summary>A point parsed now and again whenever it was collected.</summary>
    public SweepPoint(ImmutableArray<string> values, Func<Scenario> parse)
    {
        Values = values;
        _parse = parse;
        _weak = new WeakReference<Scenario>(parse());
    }

    public ImmutableArray<string> Values { get; }

    public Scenario Scenario
    {
        get
        {
            if (_held is not null) return _held;
            if (_weak!.TryGetTarget(out var scenario)) return scenario;
            scenario = _parse!();
            _weak.SetTarget(scenario);
            return scenario;
        }
    }
}

/// <summary>
/// A scenario file: one scenario, or a sweep's points (parameters are the swept paths), and the
/// command-line overrides put into it.
/// </summary>
public sealed record ScenarioFile(string Path, ImmutableArray<string> SweepParameters, ImmutableArray<SweepPoint> Points,
    ImmutableArray<ScenarioOverride> Overrides = default)
{
    public bool IsSweep => !SweepParameters.IsEmpty;

    /// <summary>What a point's values set, as every output names a point: <c>machine.scale=512, seed=3</c>.</summary>
    public string Settings(IEnumerable<string> values) => string.Join(", ", SweepParameters.Zip(values, (k, v) => $"{k}={v}"));
}
