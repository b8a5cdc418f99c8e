using System.Collections.Immutable;
using Shootdown.Model.Costs;
using Shootdown.Model.Safety;
using Shootdown.Model.Simulation;
using Shootdown.Model.Topology;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Kernel;

/// <summary>
/// Everything one run of one policy needs, and the map from entity ids to model objects:
/// ids 0..N−1 are CPUs, N..N+P−1 are the processes' mms.
/// </summary>
public sealed class SimulationSetup
{
    private readonly ImmutableArray<OpStreamSpec>[] _streamsByCpu;
    private readonly ImmutableArray<IrqOffSpec>[] _irqOffByCpu;
    private readonly int[] _hugetlbOwner;
    private readonly ImmutableArray<(int Spec, WalkerSpec Walker)>[] _walkersByCpu;
    private readonly bool[] _packageOnlyIdles;
    private readonly bool[][] _streamsInKhugepagedByCpu;
    private readonly ImmutableArray<(int Process, int Thread)>[] _threadsStartingOn;

    public SimulationSetup(Machine machine, CostModel costs, KernelPolicy policy, MachineFeatures features, WorkloadSpec workload, ulong seed, long durationNs)
    {
        costs.Validate();
        Machine = machine;
        Costs = costs;
        Policy = policy;
        Features = features;
        Workload = workload;
        Seed = seed;
        DurationNs = durationNs;
        TlbIpiBroadcastKey = policy.TlbTableFlushImpliesIpiBroadcast(features);
        FastestInteractionNs = costs.FastestInteractionNs;

        var n = machine.CpuCount;
        _streamsByCpu = new ImmutableArray<OpStreamSpec>[n];
        _irqOffByCpu = new ImmutableArray<IrqOffSpec>[n];
        var streams = workload.Operations.GroupBy(o => o.Cpu).ToDictionary(g => g.Key, g => g.ToImmutableArray());
        var irqOff = workload.IrqsOff.SelectMany(s => s.Cpus.Select(c => (c, s))).GroupBy(p => p.c).ToDictionary(g => g.Key, g => g.Select(p => p.s).ToImmutableArray());
        for (var cpu = 0; cpu < n; cpu++)
        {
            _streamsByCpu[cpu] = streams.GetValueOrDefault(cpu, []);
            _irqOffByCpu[cpu] = irqOff.GetValueOrDefault(cpu, []);
        }
        _hugetlbOwner = Enumerable.Repeat(-1, workload.Processes.Length).ToArray();
        foreach (var share in workload.HugetlbShares)
            foreach (var p in share.Sharers) _hugetlbOwner[p] = share.Sharers[0];
        RealtimeCpus = workload.RealtimeCpus.ToHashSet();
        NohzFullCpus = workload.NohzFullCpus.ToHashSet();
        Preemption = new VcpuPreemption(n, workload.StealTime, seed);
        var walkers = workload.Walkers.SelectMany((w, i) => w.Cpus.Select(c => (c, i, w))).GroupBy(p => p.c)
            .ToDictionary(g => g.Key, g => g.Select(p => (p.i, p.w)).ToImmutableArray());
        _walkersByCpu = new ImmutableArray<(int, WalkerSpec)>[n];
        for (var cpu = 0; cpu < n; cpu++) _walkersByCpu[cpu] = walkers.GetValueOrDefault(cpu, []);
        _packageOnlyIdles = PackagesThatOnlyIdle(machine, workload);
        _streamsInKhugepagedByCpu = [.. _streamsByCpu.Select(streams => streams.Select(s => RunsInKhugepaged(s, workload)).ToArray())];
        _threadsStartingOn = ThreadsByStartCpu(n, workload);
    }

    /// <summary>
    /// Each CPU's threads, by where they start (<see cref="ProcessSpec.StartCpuOf"/>), in process
    /// then thread order. Found once per run: every CPU looking through every thread of the
    /// workload for its own took CPUs × threads steps inside the engine's time (four million for
    /// khugepaged-8192's 512 threads).
    /// </summary>
    private static ImmutableArray<(int Process, int Thread)>[] ThreadsByStartCpu(int cpus, WorkloadSpec workload)
    {
        var byCpu = new List<(int, int)>?[cpus];
        for (var p = 0; p < workload.Processes.Length; p++)
            for (var t = 0; t < workload.Processes[p].Threads; t++)
                if (workload.Processes[p].StartCpuOf(t) is var cpu && (uint)cpu < (uint)cpus) (byCpu[cpu] ??= []).Add((p, t));
        return [.. byCpu.Select(threads => threads is null ? [] : threads.ToImmutableArray())];
    }

    /// <summary>
    /// The packages none of whose CPUs the workload places anything on: no thread's affinity, no
    /// operation stream, lockless walker or IRQs-off section. Their cores run only the interrupts
    /// the run sends them, so the package reaches its package C-state between them (intel_idle's
    /// package C6 needs every core of the package idle). Decided from the placement, not from who
    /// runs at the moment: a CPU cannot see its package's other cores (each is its own entity),
    /// so a package whose threads all sleep at once is taken to stay up, and one whose core is
    /// still in an earlier interrupt's handler to be down.
    /// </summary>
    private static bool[] PackagesThatOnlyIdle(Machine machine, WorkloadSpec workload)
    {
        var onlyIdles = Enumerable.Repeat(true, machine.PackageCount).ToArray();
        var busy = workload.Processes.SelectMany(CpusThreadsMayRunOn)
            .Concat(workload.Operations.Select(o => o.Cpu))
            .Concat(workload.Walkers.SelectMany(w => w.Cpus))
            .Concat(workload.IrqsOff.SelectMany(s => s.Cpus));
        foreach (var cpu in busy)
            if ((uint)cpu < (uint)machine.CpuCount) onlyIdles[machine.PackageOf(cpu)] = false;
        return onlyIdles;
    }

    /// <summary>Where a process's threads can run: where they start (<see cref="ProcessSpec.StartCpuOf"/>), and the whole list if they migrate.</summary>
    private static IEnumerable<int> CpusThreadsMayRunOn(ProcessSpec process) =>
        process.MigrateMeanNs is null ? Enumerable.Range(0, process.Threads).Select(process.StartCpuOf) : process.Cpus;

    /// <summary>
    /// Whether <paramref name="stream"/>'s operations run in khugepaged rather than in the process:
    /// collapse_huge_page(), retract_page_tables() and collapse_pte_mapped_thp() run in the
    /// khugepaged thread (khugepaged_do_scan()), or in the caller of MADV_COLLAPSE
    /// (madvise_collapse()), which runs on one of its own CPUs. So a stream paced by khugepaged's
    /// knobs, or issued from a CPU outside the process's, is khugepaged's; any other is the
    /// process's own MADV_COLLAPSE. Other operations run in the process. Only traces show it (the
    /// task column).
    /// </summary>
    private static bool RunsInKhugepaged(OpStreamSpec stream, WorkloadSpec workload) =>
        stream.Type is OpType.CollapseHugePage or OpType.RetractPageTables or OpType.TryCollapsePteMappedThp
        && (stream.Khugepaged is not null || !workload.Processes[stream.Process].Cpus.Contains(stream.Cpu));

    /// <summary>Whether the operations of <paramref name="cpu"/>'s stream <paramref name="stream"/> (its index in <see cref="StreamsOn"/>) run in khugepaged (<see cref="RunsInKhugepaged(OpStreamSpec, WorkloadSpec)"/>), decided once per stream.</summary>
    public bool RunsInKhugepaged(int cpu, int stream) => _streamsInKhugepagedByCpu[cpu][stream];

    /// <summary>Whether <paramref name="cpu"/>'s package has nothing placed on it (<see cref="PackagesThatOnlyIdle"/>), so its deep idle is the package's.</summary>
    public bool PackageOnlyIdles(int cpu) => _packageOnlyIdles[Machine.PackageOf(cpu)];

    /// <summary>The host's vCPU preemption pattern (empty on bare metal).</summary>
    public VcpuPreemption Preemption { get; }

    /// <summary>What the safety check reads of this run (<see cref="SafetyChecker.CheckCpu"/>).</summary>
    public SafetyRun SafetyRun => new(Policy.Name, (cpu, at) => Features.KvmPvFlush && Preemption.IsPreempted(cpu, at));

    /// <summary>The part of the run whose tracepoints the CPUs record, or null for none (the default).</summary>
    public Tracing.FtraceWindow? Ftrace { get; init; }

    /// <summary>Whether the run has lockless walkers, and so table retires to record and a safety check to make.</summary>
    public bool ChecksSafety => !Workload.Walkers.IsEmpty;

    /// <summary>The walker specs (with their index in the scenario) that walk on <paramref name="cpu"/>.</summary>
    public ImmutableArray<(int Spec, WalkerSpec Walker)> WalkersOn(int cpu) => _walkersByCpu[cpu];

    public Machine Machine { get; }
    public CostModel Costs { get; }
    public KernelPolicy Policy { get; }
    public MachineFeatures Features { get; }
    public WorkloadSpec Workload { get; }
    public ulong Seed { get; }
    public long DurationNs { get; }

    /// <summary>tlb_ipi_broadcast_key, decided once by native_pv_tlb_init() at boot.</summary>
    public bool TlbIpiBroadcastKey { get; }

    public IReadOnlySet<int> RealtimeCpus { get; }

    /// <summary>The nohz_full CPUs (<see cref="WorkloadSpec.NohzFullCpus"/>).</summary>
    public IReadOnlySet<int> NohzFullCpus { get; }

    public int CpuCount => Machine.CpuCount;
    public int ProcessCount => Workload.Processes.Length;
    public int EntityCount => CpuCount + ProcessCount;

    public int MmEntityId(int process) => CpuCount + process;
    public bool IsCpu(int entityId) => entityId < CpuCount;

    public ImmutableArray<OpStreamSpec> StreamsOn(int cpu) => _streamsByCpu[cpu];
    public ImmutableArray<IrqOffSpec> IrqOffOn(int cpu) => _irqOffByCpu[cpu];

    /// <summary>The threads (process index, thread index) that start on <paramref name="cpu"/>, in process then thread order.</summary>
    public ImmutableArray<(int Process, int Thread)> ThreadsStartingOn(int cpu) => _threadsStartingOn[cpu];

    /// <summary>The process whose mm holds the shared PMD table this process maps, or −1.</summary>
    public int HugetlbOwnerOf(int process) => _hugetlbOwner[process];

    /// <summary>
    /// When, at the earliest, handling <paramref name="e"/> lets its entity write a CPU's state
    /// and an mm's: see <see cref="Cpu.EarliestRemoteWrites"/> and <see cref="MmStruct.EarliestRemoteWrites"/>.
    /// </summary>
    public EntityTimes EarliestRemoteWrites(in SimEvent e) =>
        IsCpu(e.Target) ? Cpu.EarliestRemoteWrites(e, this) : MmStruct.EarliestRemoteWrites(e, this);

    /// <summary>
    /// The same for an event that reaches an entity first while the entity takes
    /// <paramref name="wakeLatency"/> to act (<see cref="IWakeLatency"/>), or null where that
    /// changes nothing: see <see cref="Cpu.EarliestRemoteWritesWaking"/>.
    /// </summary>
    public EntityTimes? EarliestRemoteWritesWaking(in SimEvent e, long wakeLatency) =>
        IsCpu(e.Target) ? Cpu.EarliestRemoteWritesWaking(e, this, wakeLatency) : null;

    /// <summary>The cost model's fastest interaction between two entities, asked once per event.</summary>
    public long FastestInteractionNs { get; }

    /// <summary>The model object behind an entity id; CPUs hand sampled operations to <paramref name="tracing"/>.</summary>
    public ISimEntity CreateEntity(int id, Tracing.IOpTraceSink? tracing = null) =>
        IsCpu(id) ? new Cpu(this, id, tracing) : new MmStruct(this, id - CpuCount);
}
