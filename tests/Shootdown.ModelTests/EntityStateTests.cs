using System.Collections;
using System.Reflection;
using Shootdown.Engine;
using Shootdown.Engine.Queues;
using Shootdown.Model.Kernel;
using Shootdown.Model.Simulation;
using Shootdown.Model.Topology;
using Shootdown.Model.Tracing;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>
/// Every entity of a run written mid-run in the state contract and read back into one built
/// afresh from the setup, as a silo restores a checkpoint: the two are the same field for field
/// (compared by reflection, so a field the contract forgets fails here), the restored one writes
/// the same bytes, and both go on to the same end.
/// </summary>
public sealed class EntityStateTests
{
    /// <summary>
    /// The model's paths: threads that run, sleep, migrate and share CPUs under IRQ-off windows;
    /// khugepaged and hugetlb unshares (small-64); the safety scenarios' walkers, INVLPGB's global
    /// ASIDs, a KVM guest's preemption and directed yields, a sync with no flush, munmap's fallback,
    /// and grace periods in flight (the last policy of hugetlb-sharers-kvm and pae-kswapd-stalled is sync-rcu).
    /// </summary>
    public static TheoryData<string> Scenarios => new()
    {
        "inline:migration",
        "small-64.yaml",
        "safety/native-x86.yaml",
        "safety/invlpgb.yaml",
        "safety/kvm-pv.yaml",
        "safety/hugetlb-sharers-kvm.yaml",
        "safety/sync-without-flush.yaml",
        "safety/rcu-walkers-ipi-fallback.yaml",
        "safety/pae-kswapd-stalled.yaml",
    };

    private static Scenario Load(string name) => name == "inline:migration"
        ? Sim.Parse(Sim.MigrationWorkload)
        : ScenarioLoader.LoadFile(Sim.ScenarioPath(name));

    /// <summary>Traces every operation (so each in-flight operation carries its trace) and keeps them.</summary>
    private sealed class KeepingSink : IOpTraceSink
    {
        public List<OpTrace> Traces { get; } = [];
        public double SampleRatio => 1;
        public object? CurrentCarrier() => null;
        public void Completed(OpTrace trace) => Traces.Add(trace);
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void EveryEntityRestoredMidRunIsTheSameFieldForFieldAndGoesOnAlike(string name)
    {
        var scenario = Load(name);
        var setup = scenario.SetupFor(scenario.Policies[^1], new FtraceWindow(0, scenario.DurationNs));
        var sink = new KeepingSink();
        var run = Lockstep.Started(setup, sink);
        // Restored at a barrier every tenth of the run, and at the first barrier with a call in
        // flight (or half way, in a run with no IPIs), which then goes on beside the run to its end.
        Lockstep? follower = null;
        var checks = 0;
        for (var due = scenario.DurationNs / 10; run.Step();)
        {
            if (follower is not null) Assert.True(follower.Step());
            var follow = follower is null && (run.AnyCallInFlight || run.Now >= scenario.DurationNs / 2);
            if (run.Now < due && !follow) continue;
            if (run.Now >= due) due += scenario.DurationNs / 10;
            checks++;
            var states = run.Snapshots();
            var restored = Lockstep.Restored(setup, sink, states);
            StateComparer.AssertSame(run.Runners, restored.Runners);
            Assert.Equal(states, restored.Snapshots());
            if (follow) follower = restored;
        }
        Assert.True(checks >= 5, $"{checks} barriers checked");
        Assert.NotNull(follower);
        Assert.False(follower.Step());
        StateComparer.AssertSame(run.Runners, follower.Runners);
        Assert.True(run.Runners.Sum(r => r.EventsProcessed) > 1_000);
    }

    [Fact]
    public void AStateGivenToAnotherEntityOrCutShortIsRefusedInOneLine()
    {
        var scenario = Load("small-64.yaml");
        var setup = scenario.SetupFor(scenario.Policies[0]);
        var run = Lockstep.Started(setup, null);
        while (run.Now < 500_000 && run.Step()) { }
        var states = run.Snapshots();
        var contract = new SyncContract(setup);

        var other = Assert.Throws<InvalidDataException>(() => EntityRunner.Restore(setup.CreateEntity(1), contract, states[0]));
        Assert.Matches(@"^state at byte \d+ of \d+: entity 0's state given to entity 1$", other.Message);
        var cut = Assert.Throws<InvalidDataException>(() => EntityRunner.Restore(setup.CreateEntity(0), contract, states[0].AsMemory(0, states[0].Length - 5)));
        Assert.Matches(@"^state at byte \d+ of \d+: .+ needs \d+ bytes, \d+ are left$", cut.Message);
        var mm = setup.MmEntityId(0);
        var longer = Assert.Throws<InvalidDataException>(() => EntityRunner.Restore(setup.CreateEntity(mm), contract, states[mm].Append((byte)0).ToArray()));
        Assert.EndsWith("1 bytes left over after the value", longer.Message);
    }

    /// <summary>
    /// Every entity in lockstep windows one lookahead long from the earliest pending event: what
    /// one entity sends another is at least a lookahead ahead, so it lands after the window, and
    /// each window's sends are delivered before the next. The simplest transport of the protocol.
    /// </summary>
    private sealed class Lockstep
    {
        private readonly SyncContract _contract;

        private Lockstep(SimulationSetup setup, EntityRunner[] runners)
        {
            _contract = new SyncContract(setup);
            Runners = runners;
        }

        public EntityRunner[] Runners { get; }

        /// <summary>The start of the last window run.</summary>
        public long Now { get; private set; }

        public bool AnyCallInFlight => Runners.Any(r => r.Entity is Cpu { Smp.InFlight: not null });

        public static Lockstep Started(SimulationSetup setup, IOpTraceSink? sink)
        {
            var contract = new SyncContract(setup);
            var run = new Lockstep(setup, [.. Enumerable.Range(0, setup.EntityCount).Select(id => new EntityRunner(setup.CreateEntity(id, sink), contract))]);
            foreach (var r in run.Runners) r.Start(new EventBuffer());
            run.Route();
            return run;
        }

        public static Lockstep Restored(SimulationSetup setup, IOpTraceSink? sink, byte[][] states)
        {
            var contract = new SyncContract(setup);
            return new Lockstep(setup, [.. states.Select((s, id) => EntityRunner.Restore(setup.CreateEntity(id, sink), contract, s))]) { Now = 0 };
        }

        public byte[][] Snapshots() => [.. Runners.Select(r => r.Snapshot())];

        public bool Step()
        {
            var next = Runners.Min(r => r.Frontier.Next.Earliest);
            if (next == long.MaxValue) return false;
            Now = next;
            foreach (var r in Runners) r.RunUntil(next + _contract.Lookahead, new EventBuffer());
            Route();
            return true;
        }

        private void Route()
        {
            var sent = Runners.Select(r => r.TakeSent()).Select(s => (Events: s.Events.ToArray(), s.Masks)).ToList();
            foreach (var target in Runners)
            {
                var id = target.Entity.Id;
                target.Deliver([sent.SelectMany(s => s.Events).Where(e => e.Target == id).ToArray()], [.. sent.SelectMany(s => s.Masks).Where(m => m.Target == id)]);
            }
        }
    }

    /// <summary>
    /// Two object graphs compared field by field, through private fields and base classes.
    /// References into the setup are the same objects on both sides; collections compare as
    /// their sequences (a priority queue as its heap, a runner's pending events in its heap's
    /// order); a call in flight only at its targets,
    /// since its pooled arrays hold nothing else that is ever read.
    /// </summary>
    private static class StateComparer
    {
        public static void AssertSame(object a, object b) => Compare(a, b, "runners", new HashSet<(object, object)>(PairComparer.Instance));

        private sealed class PairComparer : IEqualityComparer<(object, object)>
        {
            public static readonly PairComparer Instance = new();
            public bool Equals((object, object) x, (object, object) y) => ReferenceEquals(x.Item1, y.Item1) && ReferenceEquals(x.Item2, y.Item2);
            public int GetHashCode((object, object) p) => HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(p.Item1), System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(p.Item2));
        }

        private static void Compare(object? a, object? b, string path, HashSet<(object, object)> seen)
        {
            if (ReferenceEquals(a, b)) return;
            if (a is null || b is null) throw new Xunit.Sdk.XunitException($"{path}: {a ?? "null"} against {b ?? "null"}");
            var type = a.GetType();
            if (type != b.GetType()) throw new Xunit.Sdk.XunitException($"{path}: a {type.Name} against a {b.GetType().Name}");
            if (type.IsPrimitive || type.IsEnum || a is string || a is CpuMask)
            {
                if (!a.Equals(b)) throw new Xunit.Sdk.XunitException($"{path}: {a} against {b}");
                return;
            }
            if (!type.IsValueType && !seen.Add((a, b))) return;
            if (typeof(Delegate).IsAssignableFrom(type)) throw new Xunit.Sdk.XunitException($"{path}: a delegate in the state");
            if (a is SmpCallFunction.Call call)
            {
                CompareCall(call, (SmpCallFunction.Call)b, path, seen);
                return;
            }
            if (a is EntityRunner runner)
            {
                CompareRunner(runner, (EntityRunner)b, path, seen);
                return;
            }
            if (a is Array || !type.IsValueType && a is IEnumerable)
            {
                CompareSequences((IEnumerable)a, (IEnumerable)b, path, seen);
                return;
            }
            CompareFields(type, a, b, path, seen, skip: []);
        }

        private static void CompareSequences(IEnumerable a, IEnumerable b, string path, HashSet<(object, object)> seen)
        {
            var x = a.Cast<object?>().ToList();
            var y = b.Cast<object?>().ToList();
            if (x.Count != y.Count) throw new Xunit.Sdk.XunitException($"{path}: {x.Count} items against {y.Count}");
            for (var i = 0; i < x.Count; i++) Compare(x[i], y[i], $"{path}[{i}]", seen);
        }

        private static void CompareFields(Type type, object a, object b, string path, HashSet<(object, object)> seen, string[] skip)
        {
            for (var t = type; t is not null && t != typeof(object) && t != typeof(ValueType); t = t.BaseType)
                foreach (var field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                    if (!skip.Contains(field.Name))
                        Compare(field.GetValue(a), field.GetValue(b), $"{path}.{field.Name}", seen);
        }

        /// <summary>
        /// A runner's pending events compare in its heap's order: which slot
        /// of its store holds an event, and how large its pooled arrays are, is where the store had room, not state.
        /// </summary>
        private static void CompareRunner(EntityRunner a, EntityRunner b, string path, HashSet<(object, object)> seen)
        {
            CompareFields(typeof(EntityRunner), a, b, path, seen, skip: ["_queue"]);
            CompareSequences(PendingInHeapOrder(a), PendingInHeapOrder(b), $"{path}._queue", seen);
        }

        private static IEnumerable<object> PendingInHeapOrder(EntityRunner runner)
        {
            var queue = (EntityEventQueue)typeof(EntityRunner).GetField("_queue", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(runner)!;
            return Enumerable.Range(0, queue.Count).Select(i => (object)queue[i]).ToList();
        }

        private static void CompareCall(SmpCallFunction.Call a, SmpCallFunction.Call b, string path, HashSet<(object, object)> seen)
        {
            CompareFields(typeof(SmpCallFunction.Call), a, b, path, seen, skip: ["<Targets>k__BackingField", "<Answer>k__BackingField", "<UnlockTime>k__BackingField"]);
            // The pooled arrays matter only at the targets, and an unlock time only once the target unlocked: the model reads nothing else.
            for (var j = 0; j < a.Count; j++)
            {
                var target = a.Targets[j];
                var unlocked = (a.Answer[target] & (byte)SmpCallFunction.TargetAnswer.Unlocked) != 0;
                Compare((target, a.Answer[target], unlocked ? a.UnlockTime[target] : 0), (b.Targets[j], b.Answer[target], unlocked ? b.UnlockTime[target] : 0),
                    $"{path}.target[{j}]", seen);
            }
        }
    }
}
