using System.Diagnostics;
using Shootdown.Analysis.Runs;
using Shootdown.Client.Running;
using Shootdown.Engine;
using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Model.Tracing;
using Shootdown.Scenarios;
using Shootdown.Telemetry;

namespace Shootdown.Tests;

/// <summary>
/// The kernel's spans, read back from the in-memory exporter: the tree of each operation, its
/// virtual timestamps, its attributes, and that a sampled broadcast has every target.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class TelemetryTests(ClusterFixture clusters)
{
    private static readonly Scenario Small = ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml"));

    private static async Task<(Comparison Result, List<Activity> Roots, ILookup<ActivitySpanId, Activity> Children)> Traced(
        EngineKind engine, double ratio, IGrainFactory? grains = null)
    {
        var tracing = new RunTracing(ratio, Guid.NewGuid().ToString("N")[..12]);
        using (TestTracing.Capture())
        {
            var result = await ShootdownRunner.RunAsync(Small, engine, grains: grains, tracing: tracing);
            var (roots, children) = TestTracing.KernelTraces(tracing.RunId);
            return (result, roots, children);
        }
    }

    private static long Long(Activity a, string tag) => Convert.ToInt64(a.GetTagItem(tag));

    [Fact]
    public async Task EveryOperationIsATraceOfItsStepsCallsAndTargetsOnTheVirtualTimeline()
    {
        var (result, roots, children) = await Traced(EngineKind.Reference, 1.0);
        var n = Small.Machine.CpuCount;
        var baseline = result.Runs.Single(r => r.Result.Policy == "baseline").Result;
        var patched = result.Runs.Single(r => r.Result.Policy == "patched").Result;
        // Ratio 1: one root per operation of each policy.
        Assert.Equal(baseline.Ops.Length + patched.Ops.Length, roots.Count);

        var syncTargetSpans = 0;
        var baselineCollapses = 0;
        foreach (var root in roots)
        {
            var policy = (string)root.GetTagItem("kernel.policy")!;
            var op = (policy == "baseline" ? baseline : patched).Ops
                .Single(o => o.Initiator == Long(root, "kernel.initiator_cpu") && o.Serial == Long(root, "kernel.op_serial"));
            Assert.Equal(KernelSpans.RootName(op.Type), root.DisplayName);
            Assert.Equal(Small.Workload.Processes[op.Process].Name, root.GetTagItem("kernel.mm"));
            // Virtual time on a fixed epoch, to the 100 ns tick, and exactly in the attributes.
            Assert.Equal(Instrumentation.VirtualEpoch.AddTicks(op.StartNs / 100).UtcDateTime, root.StartTimeUtc);
            Assert.Equal(Instrumentation.VirtualEpoch.AddTicks(op.EndNs / 100).UtcDateTime, root.StartTimeUtc + root.Duration);
            Assert.Equal(op.StartNs, Long(root, "virtual.start_ns"));
            Assert.Equal(op.LatencyNs, Long(root, "kernel.latency_ns"));

            var steps = children[root.SpanId].OrderBy(s => s.StartTimeUtc).ThenBy(s => Long(s, "virtual.start_ns")).ToList();
            var flush = steps.SingleOrDefault(s => s.DisplayName == "flush_tlb_mm_range");
            if (flush is null)
            {
                // An unshare of a table nobody else shares: no flush, no sync.
                Assert.Equal((Model.Workload.OpType.HugetlbUnshare, 0, 0), (op.Type, op.FlushIpis, op.SyncIpis));
                Assert.Equal("not shared", steps.Single().GetTagItem("kernel.outcome"));
                continue;
            }
            Assert.Equal(op.FullFlush ? "full" : "range", flush.GetTagItem("kernel.flush"));
            Assert.Equal(op.FullFlush ? "full" : "range", root.GetTagItem("kernel.flush"));
            var flushCall = children[flush.SpanId].SingleOrDefault();
            Assert.Equal(op.FlushIpis > 0 || flushCall is not null && Long(flushCall, "kernel.declined") == Long(flushCall, "kernel.targets"), flushCall is not null);
            if (flushCall is not null)
            {
                Assert.Equal("native_flush_tlb_multi", flushCall.DisplayName);
                var targets = children[flushCall.SpanId].ToList();
                Assert.Equal(Long(flushCall, "kernel.targets"), targets.Count);
                Assert.Equal(op.FlushIpis, targets.Count(t => !(bool)t.GetTagItem("kernel.declined")!));
                Assert.All(targets, t => Assert.Equal("flush_tlb_func", t.DisplayName));
            }

            var sync = steps.SingleOrDefault(s => s.DisplayName == "tlb_remove_table_sync_one");
            if (policy == "baseline") Assert.Equal(op.Type == Model.Workload.OpType.CollapseHugePage || op.Synced, sync is not null);
            if (sync is null) continue;
            // Steps follow one another on the initiator.
            Assert.Equal(Long(flush, "virtual.end_ns"), Long(sync, "virtual.start_ns"));
            var syncCall = children[sync.SpanId].SingleOrDefault();
            if (policy == "patched")
            {
                Assert.Equal("skipped: tlb_table_flush_implies_ipi_broadcast()", sync.GetTagItem("kernel.outcome"));
                Assert.Null(syncCall);
                continue;
            }
            Assert.NotNull(syncCall);
            Assert.Equal("smp_call_function_many_cond", syncCall.DisplayName);
            // The sampled broadcast is complete: every online CPU but the initiator, once each.
            var cpus = children[syncCall.SpanId].Select(t => Long(t, "cpu")).Order().ToList();
            Assert.Equal(Enumerable.Range(0, n).Where(c => c != op.Initiator).Select(c => (long)c), cpus);
            Assert.Equal(op.SyncIpis, cpus.Count);
            foreach (var t in children[syncCall.SpanId])
            {
                Assert.Equal("tlb_remove_table_smp_sync", t.DisplayName);
                // A CPU in cfd->cpumask_ipi has its IPI's arrival; one whose queue was busy (or that a
                // single-target call woke from polling) has none, and runs the csd all the same.
                if (t.GetTagItem("kernel.ipi_arrival_ns") is not null)
                {
                    Assert.True(Long(t, "kernel.ipi_arrival_ns") >= Long(t, "virtual.start_ns"));
                    Assert.True(Long(t, "kernel.func_start_ns") >= Long(t, "kernel.ipi_arrival_ns"));
                }
                else
                {
                    Assert.True((bool)t.GetTagItem("kernel.coalesced")! || cpus.Count == 1);
                    Assert.True(Long(t, "kernel.func_start_ns") >= Long(t, "virtual.start_ns"));
                }
                Assert.True(Long(t, "virtual.end_ns") <= Long(syncCall, "virtual.end_ns"));
            }
            syncTargetSpans += cpus.Count;
            if (op.Type == Model.Workload.OpType.CollapseHugePage) baselineCollapses++;
        }
        // Closed form: c collapses under the baseline broadcast to N−1 CPUs each (plus the last-sharer unshares' syncs).
        var unshareSyncs = baseline.Ops.Count(o => o.Type == Model.Workload.OpType.HugetlbUnshare && o.Synced);
        Assert.Equal((baselineCollapses + unshareSyncs) * (n - 1), syncTargetSpans);
        Assert.True(baselineCollapses > 0);
    }

    [Fact]
    public async Task HeadSamplingPicksTheSameOperationsOnBothEnginesAndTracesThemAlike()
    {
        var reference = await Traced(EngineKind.Reference, 0.4);
        var grains = await Traced(EngineKind.Grains, 0.4, clusters.ThreeSilos.Client);
        static string Key(Activity a) => $"{a.GetTagItem("kernel.policy")}/{a.GetTagItem("kernel.initiator_cpu")}/{a.GetTagItem("kernel.op_serial")}";
        string Shape(Activity root, ILookup<ActivitySpanId, Activity> children)
        {
            var tags = string.Join(",", root.TagObjects.Where(t => t.Key.StartsWith("kernel.") || t.Key.StartsWith("virtual.")).Select(t => $"{t.Key}={t.Value}"));
            string Tree(Activity a) => $"{a.DisplayName}[{string.Join(" ", children[a.SpanId].OrderBy(c => c.DisplayName).ThenBy(c => Long(c, "virtual.start_ns")).ThenBy(c => c.GetTagItem("cpu")).Select(Tree))}]";
            return $"{tags} {Tree(root)}";
        }

        var ops = reference.Result.Runs.Sum(r => r.Result.Ops.Length);
        Assert.InRange(reference.Roots.Count, ops / 5, ops * 3 / 5);
        Assert.Equal(reference.Roots.Select(Key).Order(), grains.Roots.Select(Key).Order());
        var expected = reference.Roots.ToDictionary(Key, r => Shape(r, reference.Children));
        foreach (var root in grains.Roots) Assert.Equal(expected[Key(root)], Shape(root, grains.Children));
        // The same collapse is traced under both policies, so they can be put side by side.
        Assert.Contains(reference.Roots, r => (string)r.GetTagItem("kernel.policy")! == "patched");
        Assert.All(reference.Roots.Where(r => (string)r.GetTagItem("kernel.policy")! == "baseline"),
            b => Assert.Contains(reference.Roots, p => Key(p) == Key(b).Replace("baseline/", "patched/")));
    }

    [Fact]
    public async Task GrainEngineSpansLinkKernelOperationsToTheGrainCallsThatCarriedThem()
    {
        var (_, roots, _) = await Traced(EngineKind.Grains, 0.2, clusters.OneSilo.Client);
        var spans = TestTracing.Spans();
        var byId = spans.ToDictionary(s => (s.TraceId, s.SpanId));
        Assert.NotEmpty(roots);
        foreach (var root in roots)
        {
            Assert.NotEmpty(root.Links);
            foreach (var link in root.Links)
            {
                var call = byId[(link.Context.TraceId, link.Context.SpanId)];
                Assert.Equal(Instrumentation.OrleansSourceName, call.Source.Name);
                Assert.Equal("ISimEntityGrain/RunWindow", call.DisplayName);
            }
        }
        // Windows are roots of their own, and their grain calls are their children.
        var windows = spans.Where(s => s.DisplayName == "engine.window" && s.ParentSpanId == default).ToList();
        Assert.NotEmpty(windows);
        var window = windows.First(w => spans.Any(s => s.ParentSpanId == w.SpanId));
        Assert.All(spans.Where(s => s.ParentSpanId == window.SpanId), s => Assert.Equal(Instrumentation.OrleansSourceName, s.Source.Name));
    }

    /// <summary>Tracing never changes a result: the model's work for a sampled operation only reads its state.</summary>
    [Fact]
    public void TracingChangesNoDigestAndHandsOverEveryOperationAtRatioOne()
    {
        foreach (var policy in Small.Policies)
        {
            var setup = Small.SetupFor(policy);
            var plain = new ReferenceEngine(setup).Run(cancellation: TestContext.Current.CancellationToken);
            var sink = new CollectingSink(1.0);
            var traced = new ReferenceEngine(setup, sink).Run(cancellation: TestContext.Current.CancellationToken);
            var none = new CollectingSink(0.0);
            var unsampled = new ReferenceEngine(setup, none).Run(cancellation: TestContext.Current.CancellationToken);
            Assert.Equal(plain.Digest, traced.Digest);
            Assert.Equal(plain.Digest, unsampled.Digest);
            Assert.Empty(none.Traces);
            Assert.Equal(plain.Ops.Select(o => (o.Initiator, o.Serial)).Order(), sink.Traces.Select(t => (t.Initiator, t.Serial)).Order());
            foreach (var t in sink.Traces)
            {
                var op = plain.Ops.Single(o => o.Initiator == t.Initiator && o.Serial == t.Serial);
                Assert.Equal((op.StartNs, op.EndNs), (t.StartNs, t.EndNs));
                Assert.Equal(op.SyncIpis, t.Steps.Where(s => s.Kind == StepKind.TlbRemoveTableSyncOne).Sum(s => s.Call?.Targets.Length ?? 0));
            }
        }
    }

    [Fact]
    public void SamplingIsAPureFunctionOfSeedInitiatorAndSerial()
    {
        var picked = Enumerable.Range(0, 20_000).Count(i => OpTraceSampling.Samples(0.1, 42, i % 97, i / 97));
        Assert.InRange(picked, 1_800, 2_200);
        Assert.Equal(OpTraceSampling.Samples(0.1, 42, 3, 17), OpTraceSampling.Samples(0.1, 42, 3, 17));
        Assert.False(OpTraceSampling.Samples(0, 42, 3, 17));
        Assert.True(OpTraceSampling.Samples(1, 42, 3, 17));
    }

    private sealed class CollectingSink(double ratio) : IOpTraceSink
    {
        public List<OpTrace> Traces { get; } = new();
        public double SampleRatio => ratio;
        public object? CurrentCarrier() => null;
        public void Completed(OpTrace trace) => Traces.Add(trace);
    }
}
