using Shootdown.Model.Simulation;
using Shootdown.Model.State;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Kernel;

/// <summary>
/// When one CPU can take an interrupt: the IRQ-off sections of <c>local_irq_disable()</c> (a local
/// flush done with IRQs off, a lockless walk under <c>local_irq_save()</c>, the scenario's periodic
/// IRQ-off windows), a handler still running, and a vCPU the host has preempted. Every piece that
/// disables IRQs writes here; the interrupt path reads it.
/// </summary>
public sealed class LocalIrqs
{
    private readonly SimulationSetup _setup;
    private readonly int _cpu;
    private readonly long[] _irqOffPhase;

    public LocalIrqs(SimulationSetup setup, int cpu, Prng irqOffPhases)
    {
        _setup = setup;
        _cpu = cpu;
        var irqOff = setup.IrqOffOn(cpu);
        _irqOffPhase = new long[irqOff.Length];
        for (var i = 0; i < irqOff.Length; i++) _irqOffPhase[i] = (long)(irqOffPhases.NextDouble() * irqOff[i].PeriodNs);
    }

    /// <summary>The end of the last call-function handler this CPU ran.</summary>
    public long HandlerBusyUntil { get; set; }

    /// <summary>The end of the last local flush_tlb_func() run with IRQs off.</summary>
    public long LocalFlushUntil { get; set; }

    /// <summary>The IRQ-off lockless walk in progress (or the last one): from, until.</summary>
    public long WalkFrom { get; private set; }
    public long WalkUntil { get; private set; }

    /// <summary>A lockless walk disables IRQs from <paramref name="start"/> to <paramref name="end"/>; overlapping walks merge.</summary>
    public void WalkIrqsOff(long start, long end)
    {
        if (start >= WalkUntil) WalkFrom = start;
        WalkUntil = Math.Max(WalkUntil, end);
    }

    /// <summary>The step-2 what-if's per-CPU "inside a lockless walk" flag, as its cond_func reads it.</summary>
    public bool InLocklessWalk(long now) => WalkFrom <= now && now < WalkUntil;

    private long _yieldedAt = long.MinValue, _yieldedWindowEnd = long.MinValue;

    /// <summary>
    /// KVM_HC_SCHED_YIELD from a sender: the host runs this vCPU from <paramref name="at"/>,
    /// cutting short the preemption it was in.
    /// </summary>
    public void DirectedYield(long at)
    {
        _yieldedAt = at;
        _yieldedWindowEnd = _setup.Preemption.RunningFrom(_cpu, at);
    }

    /// <summary>The first time at or after <paramref name="t"/> at which the vCPU runs: the host's schedule, less what a directed yield cut short.</summary>
    private long RunningFrom(long t)
    {
        var resumed = _setup.Preemption.RunningFrom(_cpu, t);
        return resumed == _yieldedWindowEnd && t >= _yieldedAt ? t : resumed;
    }

    public void WriteState(StateWriter w)
    {
        w.Long(HandlerBusyUntil);
        w.Long(LocalFlushUntil);
        w.Long(WalkFrom);
        w.Long(WalkUntil);
        w.Long(_yieldedAt);
        w.Long(_yieldedWindowEnd);
    }

    public void ReadState(StateReader r)
    {
        (HandlerBusyUntil, LocalFlushUntil, WalkFrom, WalkUntil) = (r.Long(), r.Long(), r.Long(), r.Long());
        (_yieldedAt, _yieldedWindowEnd) = (r.Long(), r.Long());
    }

    /// <summary>The first time at or after <paramref name="t"/> at which this CPU can take an interrupt.</summary>
    public long EnabledFrom(long t)
    {
        var irqOff = _setup.IrqOffOn(_cpu);
        for (var guard = 0; guard < 64; guard++)
        {
            var start = Math.Max(t, Math.Max(HandlerBusyUntil, Math.Max(LocalFlushUntil, WalkUntil)));
            start = RunningFrom(start);
            for (var i = 0; i < irqOff.Length; i++)
                start = PeriodicWindow.SkipPast(start, _irqOffPhase[i], irqOff[i].PeriodNs, irqOff[i].DurationNs);
            if (start == t) return t;
            t = start;
        }
        return t;
    }
}
