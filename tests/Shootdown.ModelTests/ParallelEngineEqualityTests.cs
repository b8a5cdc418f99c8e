using Shootdown.Engine;
using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>
/// The window protocol, on the in-process transport, against the reference engine: every shipped
/// scenario (each point of a sweep), every policy, several partition counts, the same digest. The
/// grain engine runs the same protocol (<see cref="PartitionProtocol"/>, <see cref="WindowCoordinator"/>);
/// the slow layer checks its transport on a few scenarios.
/// </summary>
public sealed class ParallelEngineEqualityTests
{
    /// <summary>
    /// Events per policy a scenario may take here: a larger run is compared on a prefix, the events
    /// before a virtual time that both engines stop at (the first power-of-two fraction of its
    /// duration whose prefix the reference handles within this), so the matrix stays in the fast
    /// layer. Only the full runs' digests are golden (<see cref="GoldenDigestTests"/>).
    /// </summary>
    private const long EventsPerPolicy = 60_000;

    /// <summary>One partition (the protocol with no batches), two, three (blocks dealt unevenly) and seven (more partitions than packages or cores).</summary>
    private static readonly int[] PartitionCounts = [1, 2, 3, 7];

    public static TheoryData<string> Scenarios()
    {
        var root = Sim.ScenarioPath("");
        var data = new TheoryData<string>();
        // machines/ and processes/ hold fragments that scenarios include, not scenarios.
        foreach (var file in Directory.EnumerateFiles(root, "*.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var name = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (!name.StartsWith("machines/", StringComparison.Ordinal) && !name.StartsWith("processes/", StringComparison.Ordinal)) data.Add(name);
        }
        foreach (var inline in new[] { "inline:storm", "inline:migration", "inline:hugetlb" }) data.Add(inline);
        return data;
    }

    private static IEnumerable<Scenario> Load(string name) => name.StartsWith("inline:", StringComparison.Ordinal)
        ? [Sim.Parse(name switch
        {
            "inline:storm" => Sim.StormWorkload,
            "inline:migration" => Sim.MigrationWorkload,
            _ => Sim.HugetlbSharersWorkload,
        })]
        : ScenarioLoader.Load(Sim.ScenarioPath(name)).Points.Select(p => p.Scenario);

    /// <summary>The reference's result, and where the comparison stops: the whole run, or the longest prefix within <see cref="EventsPerPolicy"/>.</summary>
    private static (PolicyResult Result, long Until) Reference(Scenario scenario, KernelPolicy policy)
    {
        for (var until = Math.Max(1_000, scenario.DurationNs >> 10); ; until *= 2)
        {
            var stop = until >= scenario.DurationNs ? long.MaxValue : until;
            var result = new ReferenceEngine(scenario.SetupFor(policy)).Run(until: stop);
            if (stop == long.MaxValue || result.EventsProcessed > EventsPerPolicy / 2) return (result, stop);
        }
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void EveryPartitionCountGivesTheReferenceDigest(string name)
    {
        foreach (var scenario in Load(name))
        {
            foreach (var policy in scenario.Policies)
            {
                var (reference, until) = Reference(scenario, policy);
                Assert.True(reference.EventsProcessed > 0, $"{name} {policy.Name}: no events");
                foreach (var partitions in PartitionCounts.Where(p => p <= scenario.Machine.CpuCount))
                {
                    var parallel = new ParallelEngine(scenario.SetupFor(policy), partitions, until: until).Run(cancellation: TestContext.Current.CancellationToken);
                    Assert.True(reference.Digest == parallel.Digest,
                        $"{name} {policy.Name} until {until} ns, {partitions} partitions: {parallel.Digest[..16]} ({parallel.EventsProcessed} events), " +
                        $"reference {reference.Digest[..16]} ({reference.EventsProcessed} events)");
                }
            }
        }
    }

    /// <summary>
    /// The span: one partition handles every event in turn, so its span is the whole run; with
    /// more, the most one partition handled per window adds up to at least their share, and to
    /// less than the whole when a window runs two partitions (the baseline storm's syncs do).
    /// </summary>
    [Fact]
    public void TheSpanIsTheWholeRunOnOnePartitionAndAtLeastAnEvenShareOnMore()
    {
        var scenario = Sim.Parse(Sim.StormWorkload);
        var one = new ParallelEngine(scenario.SetupFor(KernelPolicy.Baseline), 1);
        Assert.Equal(one.Run(cancellation: TestContext.Current.CancellationToken).EventsProcessed, one.SpanEvents);
        foreach (var partitions in new[] { 2, 5 })
        {
            var engine = new ParallelEngine(scenario.SetupFor(KernelPolicy.Baseline), partitions);
            var events = engine.Run(cancellation: TestContext.Current.CancellationToken).EventsProcessed;
            Assert.InRange(engine.SpanEvents, (events + partitions - 1) / partitions, events - 1);
        }
    }

    /// <summary>A prefix is the run cut at a virtual time: past the last event it is the whole run; before it, exactly the earlier events.</summary>
    [Fact]
    public void APrefixHandlesExactlyTheEventsBeforeItsEnd()
    {
        var scenario = Sim.Parse(Sim.MigrationWorkload);
        var whole = new ReferenceEngine(scenario.SetupFor(KernelPolicy.Baseline)).Run(cancellation: TestContext.Current.CancellationToken);
        Assert.Equal(whole.Digest, new ReferenceEngine(scenario.SetupFor(KernelPolicy.Baseline)).Run(cancellation: TestContext.Current.CancellationToken, until: whole.EndNs + 1).Digest);
        var half = new ReferenceEngine(scenario.SetupFor(KernelPolicy.Baseline)).Run(cancellation: TestContext.Current.CancellationToken, until: whole.EndNs / 2);
        Assert.InRange(half.EndNs, 0, whole.EndNs / 2 - 1);
        Assert.InRange(half.EventsProcessed, 1, whole.EventsProcessed - 1);
        Assert.All(half.Ops, o => Assert.True(o.EndNs < whole.EndNs / 2));
        Assert.Equal(half.Digest, new ParallelEngine(scenario.SetupFor(KernelPolicy.Baseline), 3, until: whole.EndNs / 2).Run(cancellation: TestContext.Current.CancellationToken).Digest);
    }
}
