using Shootdown.Model.Safety;
using Shootdown.Model.Simulation;
using Shootdown.Model.State;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Kernel;

/// <summary>
/// The lockless page-table walkers that run on one CPU, and the walks they make, for the safety
/// check: GUP-fast (mm/gup.c gup_fast()), PAE pmdp_get_lockless() readers, and RCU walkers
/// (pte_offset_map() under rcu_read_lock()).
/// </summary>
public sealed class LocklessWalkers(Cpu cpu, Prng rng)
{
    /// <summary>The lockless walks this CPU made.</summary>
    public List<WalkRecord> Walks { get; } = new();

    public void WriteState(StateWriter w)
    {
        rng.WriteState(w);
        w.Items(Walks);
    }

    public void ReadState(StateReader r)
    {
        rng.ReadState(r);
        r.ItemsInto(Walks);
    }

    public void Start(ISimContext ctx)
    {
        var walkers = cpu.Setup.WalkersOn(cpu.Id);
        for (var i = 0; i < walkers.Length; i++) ScheduleWalk(i, ctx);
    }

    private void ScheduleWalk(int index, ISimContext ctx)
    {
        var at = ctx.Now + rng.NextExponentialNs(cpu.Setup.WalkersOn(cpu.Id)[index].Walker.MeanIntervalNs);
        if (at < cpu.Setup.DurationNs) WalkDue.Send(ctx, cpu.Id, at, index);
    }

    /// <summary>
    /// A lockless walk comes due on this CPU.
    /// <list type="bullet">
    /// <item>GUP-fast walks current->mm with IRQs off, so it happens only if this CPU is running
    /// the process, not lazily, and has been since switch_mm_irqs_off() set its mm_cpumask bit
    /// (the bit is set before the new CR3 is loaded).</item>
    /// <item>A PAE pmdp_get_lockless() reader (kswapd and the like) walks any process's tables
    /// with IRQs off, from any CPU.</item>
    /// <item>An RCU walker keeps IRQs on.</item>
    /// </list>
    /// A walk waits for a running handler to return, and a preempted vCPU's walk is frozen until
    /// the host runs it again. Under the step-2 what-if each IRQ-off walk pays its tracking.
    /// </summary>
    public void WalkBegin(in SimEvent e, ISimContext ctx)
    {
        var setup = cpu.Setup;
        var walker = new WalkDue(in e).Walker;
        var spec = setup.WalkersOn(cpu.Id)[walker].Walker;
        ScheduleWalk(walker, ctx);
        var mm = setup.MmEntityId(spec.Process);
        var tlb = cpu.Tlb;
        if (spec.Kind == WalkerKind.GupFast && (tlb.LoadedMm != mm || tlb.IsLazy || ctx.Now < tlb.SwitchedInAt + cpu.Costs.MmContextAccessNs)) return;
        var irqsOff = SafetyChecker.IrqsOff(spec.Kind);
        var duration = spec.DurationNs;
        if (irqsOff && setup.Policy.SyncScope == SyncScope.CpusInLocklessWalk)
            duration += duration * cpu.Costs.LocklessWalkTrackingPercent / 100;
        var start = setup.Preemption.RunningFrom(cpu.Id, Math.Max(ctx.Now, cpu.Irqs.HandlerBusyUntil));
        var end = setup.Preemption.FinishOfWork(cpu.Id, start, duration);
        if (irqsOff) cpu.Irqs.WalkIrqsOff(start, end);
        Walks.Add(new WalkRecord(cpu.Id, spec.Kind, spec.Process, start, end));
    }
}
