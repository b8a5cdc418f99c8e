using Shootdown.Model.Safety;
using Shootdown.Model.Simulation;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Kernel;

public sealed partial class Cpu
{
    /// <summary>Walk arrivals draw from their own stream, so adding walkers never changes the threads' schedule.</summary>
    private const ulong WalkerStreamSalt = 0x6A1C_FA57UL;

    private Prng? _walkRng;
    private long _walkIrqOffFrom;
    private long _walkIrqOffUntil;
    private long _switchedInAt;
    private int _activeMm = InitMm;

    /// <summary>The lockless walks this CPU made, for the safety check.</summary>
    public List<WalkRecord> Walks { get; } = new();

    private void StartWalkers(ISimContext ctx)
    {
        var walkers = _setup.WalkersOn(Id);
        if (walkers.IsEmpty) return;
        _walkRng = new Prng(_setup.Seed ^ WalkerStreamSalt, (ulong)Id);
        for (var i = 0; i < walkers.Length; i++) ScheduleWalk(i, ctx);
    }

    private void ScheduleWalk(int index, ISimContext ctx)
    {
        var at = ctx.Now + _walkRng!.NextExponentialNs(_setup.WalkersOn(Id)[index].Walker.MeanIntervalNs);
        if (at < _setup.DurationNs) ctx.Send(Id, at, EventKind.WalkBegin, arg: index);
    }

    /// <summary>
    /// A lockless walk comes due on this CPU.
    /// <list type="bullet">
    /// <item>GUP-fast (mm/gup.c gup_fast()) walks current->mm with IRQs off, so it happens only if
    /// this CPU is running the process, not lazily, and has been since switch_mm_irqs_off() set its
    /// mm_cpumask bit (the bit is set before the new CR3 is loaded).</item>
    /// <item>A PAE pmdp_get_lockless() reader (kswapd and the like) walks any process's tables
    /// with IRQs off, from any CPU.</item>
    /// <item>An RCU walker (pte_offset_map() under rcu_read_lock()) keeps IRQs on.</item>
    /// </list>
    /// A walk waits for a running handler to return, and a preempted vCPU's walk is frozen until
    /// the host runs it again. Under the step-2 what-if each IRQ-off walk pays its tracking.
    /// </summary>
    private void OnWalkBegin(in SimEvent e, ISimContext ctx)
    {
        var spec = _setup.WalkersOn(Id)[e.Arg].Walker;
        ScheduleWalk(e.Arg, ctx);
        var mm = _setup.MmEntityId(spec.Process);
        if (spec.Kind == WalkerKind.GupFast && (LoadedMm != mm || IsLazy || ctx.Now < _switchedInAt + _costs.MmContextAccessNs)) return;
        var irqsOff = SafetyChecker.IrqsOff(spec.Kind);
        var duration = spec.DurationNs;
        if (irqsOff && _setup.Policy.SyncScope == SyncScope.CpusInLocklessWalk)
            duration += duration * _costs.LocklessWalkTrackingPercent / 100;
        var start = _setup.Preemption.RunningFrom(Id, Math.Max(ctx.Now, _handlerBusyUntil));
        var end = _setup.Preemption.FinishOfWork(Id, start, duration);
        if (irqsOff)
        {
            if (start >= _walkIrqOffUntil) _walkIrqOffFrom = start;
            _walkIrqOffUntil = Math.Max(_walkIrqOffUntil, end);
        }
        Walks.Add(new WalkRecord(Id, spec.Kind, spec.Process, start, end));
    }

    /// <summary>The step-2 what-if's per-CPU "inside a lockless walk" flag, as a cond_func would read it.</summary>
    private bool InLocklessWalk(long now) => _walkIrqOffFrom <= now && now < _walkIrqOffUntil;

    /// <summary>
    /// With INVLPGB, tells the mms whether this CPU has them loaded and not lazy: the state
    /// mm_active_cpus_exceeds() reads for consider_global_asid(). Nothing is sent otherwise.
    /// </summary>
    private void NoteActiveMm(ISimContext ctx)
    {
        if (!_setup.Features.Invlpgb) return;
        var active = LoadedMm != InitMm && !IsLazy ? LoadedMm : InitMm;
        if (active == _activeMm) return;
        var at = ctx.Now + _costs.MmContextAccessNs;
        if (_activeMm != InitMm) ctx.Send(_activeMm, at, EventKind.MmActiveChange, flags: 0);
        if (active != InitMm) ctx.Send(active, at, EventKind.MmActiveChange, flags: 1);
        _activeMm = active;
    }
}
