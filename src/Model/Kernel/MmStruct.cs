using Shootdown.Model.Simulation;
using Shootdown.Model.State;
using Shootdown.Model.Topology;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Kernel;

/// <summary>
/// One process address space: <c>mm-&gt;context.tlb_gen</c>, <c>mm_cpumask(mm)</c>, the cpumask trim
/// clock, its threads' CPUs, and (for the owner of a shared hugetlb mapping) each PMD table's sharers.
/// </summary>
public sealed class MmStruct : ISimEntity
{
    /// <summary>HZ-worth of virtual time: should_trim_cpumask() lets one trim through per second per mm.</summary>
    public const long TrimIntervalNs = 1_000_000_000;

    private readonly SimulationSetup _setup;
    private readonly CpuMask.Builder _cpumask;
    private readonly Dictionary<long, int> _threadCpu = new();
    private readonly List<HashSet<int>> _pmdTableSharers = new();
    private readonly HashSet<int> _activeCpus = new();
    private bool _globalAsid;
    private bool _asidTransition;
    private long _tlbGen = 1;
    private long _nextTrimCpumask = TrimIntervalNs;

    public MmStruct(SimulationSetup setup, int process)
    {
        _setup = setup;
        Process = process;
        Id = setup.MmEntityId(process);
        _cpumask = new CpuMask.Builder(setup.CpuCount);
        foreach (var share in setup.Workload.HugetlbShares)
            if (share.Sharers[0] == process)
                for (var t = 0; t < share.Tables; t++) _pmdTableSharers.Add([.. share.Sharers]);
    }

    public int Id { get; }
    public int Process { get; }
    public long TlbGen => _tlbGen;
    public CpuMask Cpumask => _cpumask.ToMask();
    public IReadOnlyDictionary<long, int> ThreadCpus => _threadCpu;

    public void Start(ISimContext ctx) { }

    /// <summary>
    /// What events changed: tlb_gen, the cpumask and its trim clock, the global ASID, and the
    /// sets. Hashed sets are written in their enumeration order and rebuilt by adding in it;
    /// nothing reads their order, only membership and counts.
    /// </summary>
    public void WriteState(StateWriter w)
    {
        w.Long(_tlbGen);
        w.Long(_nextTrimCpumask);
        w.Bool(_globalAsid);
        w.Bool(_asidTransition);
        w.Mask(_cpumask);
        w.Int(_threadCpu.Count);
        foreach (var (thread, cpu) in _threadCpu)
        {
            w.Long(thread);
            w.Int(cpu);
        }
        w.Ints([.. _activeCpus]);
        w.Int(_pmdTableSharers.Count);
        foreach (var sharers in _pmdTableSharers) w.Ints([.. sharers]);
    }

    public void ReadState(StateReader r)
    {
        (_tlbGen, _nextTrimCpumask, _globalAsid, _asidTransition) = (r.Long(), r.Long(), r.Bool(), r.Bool());
        r.MaskInto(_cpumask);
        _threadCpu.Clear();
        for (var count = r.Count("an mm's threads"); count > 0; count--) _threadCpu.Add(r.Long(), r.Int());
        _activeCpus.Clear();
        _activeCpus.UnionWith(r.Ints());
        if (r.Count("the shared PMD tables") != _pmdTableSharers.Count) throw r.Invalid($"a number of shared PMD tables other than mm {Process}'s {_pmdTableSharers.Count}");
        foreach (var sharers in _pmdTableSharers)
        {
            sharers.Clear();
            sharers.UnionWith(r.Ints());
        }
    }

    /// <summary>
    /// The earliest times at which handling <paramref name="e"/> lets this mm write another
    /// entity's state: a request (flush, cpumask read, unshare) is answered to its CPU one
    /// mm-context access later; a cpumask or active-CPU update only changes the mm. An mm never writes another mm.
    /// </summary>
    public static EntityTimes EarliestRemoteWrites(in SimEvent e, SimulationSetup setup) => e.Kind switch
    {
        EventKind.MmCpumaskSet or EventKind.MmCpumaskClear or EventKind.MmActiveChange => EntityTimes.Never,
        _ => EntityTimes.Only(cpu: true, e.Time + setup.Costs.MmContextAccessNs),
    };

    public void Handle(in SimEvent e, ISimContext ctx)
    {
        var reply = ctx.Now + _setup.Costs.MmContextAccessNs;
        switch (e.Kind)
        {
            case EventKind.MmCpumaskSet:
            {
                // switch_mm_irqs_off(): cpumask_set_cpu(cpu, mm_cpumask(next)).
                var set = new CpumaskSet(in e);
                _cpumask.Set(set.Cpu);
                _threadCpu[set.Thread] = set.Cpu;
                break;
            }
            case EventKind.MmCpumaskClear:
                // flush_tlb_func() found this mm no longer loaded: the lazy clear of the bit.
                _cpumask.Clear(e.Source);
                break;
            case EventKind.MmActiveChange:
                // Only sent with INVLPGB: the loaded-and-not-lazy state mm_active_cpus_exceeds() reads.
                if (new MmActiveChanged(in e).Active) _activeCpus.Add(e.Source);
                else _activeCpus.Remove(e.Source);
                break;
            case EventKind.MmCpumaskRead:
                ctx.Send(e.Source, reply, EventKind.MmCpumaskSnapshot, new MmRequest(in e).Op, mask: _cpumask.ToMask());
                break;
            case EventKind.MmFlushBegin:
            {
                // flush_tlb_mm_range(): new_tlb_gen = inc_mm_tlb_gen(mm), then read mm_cpumask.
                var newTlbGen = ++_tlbGen;
                var mask = _cpumask.ToMask();
                var globalAsid = _globalAsid;
                var transition = false;
                var trim = false;
                if (_globalAsid)
                {
                    // broadcast_tlb_flush(). While in ASID transition, finish_asid_transition() still
                    // IPIs the mask; the model lets the first broadcast flush end the transition.
                    transition = _asidTransition;
                    _asidTransition = false;
                }
                else if (mask.AnyBut(e.Source))
                {
                    trim = ShouldTrimCpumask(ctx.Now);
                    ConsiderGlobalAsid(ctx.Now);
                }
                FlushMaskRead.Send(ctx, e.Source, reply, new MmRequest(in e).Op, newTlbGen, trim, globalAsid, transition, mask);
                break;
            }
            case EventKind.MmPmdUnshare:
            {
                // huge_pmd_unshare() -> tlb_unshare_pmd_ptdesc(): drop this sharer from its
                // lowest-addressed table still shared (the order __unmap_hugepage_range() walks);
                // the gather is fully_unshared when the table is no longer shared, i.e. its last
                // user may reuse it.
                var request = new MmRequest(in e);
                var sharer = request.Sharer;
                var table = _pmdTableSharers.Find(s => s.Count >= 2 && s.Contains(sharer));
                var wasShared = table is not null && table.Remove(sharer);
                var fully = wasShared && table!.Count == 1;
                PmdUnshared.Send(ctx, e.Source, reply, request.Op, wasShared, fully);
                break;
            }
            default:
                throw new InvalidOperationException($"mm {Process} cannot handle {e.Kind}");
        }
    }

    /// <summary>
    /// arch/x86/mm/tlb.c consider_global_asid(), after an IPI flush: with INVLPGB, and only when
    /// the flushing task's pid matches jiffies in the low 5 bits (unless the scenario turns that
    /// sampling off), an mm active on 4 or more CPUs (mm_active_cpus_exceeds(mm, 3)) gets a
    /// global ASID. Its next flushes are INVLPGB broadcasts.
    /// </summary>
    private void ConsiderGlobalAsid(long now)
    {
        var features = _setup.Features;
        if (!features.Invlpgb || _globalAsid) return;
        if (features.GlobalAsidSampling && (ProcessSpec.PidOf(Process) & 0x1f) != (now / _setup.Costs.JiffyNs & 0x1f)) return;
        if (_activeCpus.Count <= 3) return;
        _globalAsid = true;
        _asidTransition = true;
    }

    /// <summary>arch/x86/mm/tlb.c should_trim_cpumask(): true at most once per HZ per mm.</summary>
    private bool ShouldTrimCpumask(long now)
    {
        if (now <= _nextTrimCpumask) return false;
        _nextTrimCpumask = now + TrimIntervalNs;
        return true;
    }
}
