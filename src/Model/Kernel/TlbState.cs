using Shootdown.Model.Simulation;
using Shootdown.Model.State;
using Shootdown.Model.Tracing;

namespace Shootdown.Model.Kernel;

/// <summary>
/// arch/x86/mm/tlb.c, one CPU's side: <c>cpu_tlbstate</c> (the loaded mm, its tlb_gen as this
/// CPU's TLB reflects it), <c>cpu_tlbstate_shared.is_lazy</c>, and the functions that read and
/// change them: <c>switch_mm_irqs_off()</c>, <c>enter_lazy_tlb()</c>, <c>flush_tlb_func()</c> and
/// <c>should_flush_tlb()</c>.
/// </summary>
public sealed class TlbState(Cpu cpu)
{
    /// <summary><c>cpu_tlbstate.loaded_mm</c>, as an mm entity id, or <see cref="Cpu.InitMm"/>.</summary>
    public int LoadedMm { get; private set; } = Cpu.InitMm;

    /// <summary><c>cpu_tlbstate_shared.is_lazy</c>: running a kernel thread or idle on a borrowed user mm.</summary>
    public bool IsLazy { get; private set; }

    /// <summary>When switch_mm_irqs_off() last loaded a new mm: GUP-fast cannot walk it before its cpumask bit is visible.</summary>
    public long SwitchedInAt { get; private set; }

    /// <summary>
    /// The loaded mm's tlb_gen as this CPU's TLB reflects it. Null right after switch_mm, which
    /// catches up with the mm's tlb_gen: the next flush is then taken as the next generation.
    /// </summary>
    private long? _loadedMmTlbGen;

    /// <summary>With INVLPGB, the mm this CPU last told it was active on (loaded and not lazy).</summary>
    private int _activeMm = Cpu.InitMm;

    public void WriteState(StateWriter w)
    {
        w.Int(LoadedMm);
        w.Bool(IsLazy);
        w.Long(SwitchedInAt);
        w.NullableLong(_loadedMmTlbGen);
        w.Int(_activeMm);
    }

    public void ReadState(StateReader r)
    {
        (LoadedMm, IsLazy, SwitchedInAt, _loadedMmTlbGen, _activeMm) = (r.Int(), r.Bool(), r.Long(), r.NullableLong(), r.Int());
    }

    /// <summary>
    /// switch_mm_irqs_off() to <paramref name="mm"/> for <paramref name="thread"/>:
    /// cpumask_set_cpu(cpu, mm_cpumask(next)), and the TLB catches up with the new mm.
    /// </summary>
    public void SwitchMmIrqsOff(int mm, long thread, ISimContext ctx)
    {
        if (mm != LoadedMm)
        {
            LoadedMm = mm;
            _loadedMmTlbGen = null;
            SwitchedInAt = ctx.Now;
            CpumaskSet.Send(ctx, mm, ctx.Now + cpu.Costs.MmContextAccessNs, thread);
        }
        IsLazy = false;
        NoteActiveMm(ctx);
    }

    /// <summary>enter_lazy_tlb(): nothing runnable; the old mm stays loaded, and its cpumask bit set.</summary>
    public void EnterLazyTlb(ISimContext ctx)
    {
        if (LoadedMm != Cpu.InitMm) IsLazy = true;
        NoteActiveMm(ctx);
    }

    /// <summary>
    /// flush_tlb_func(). Returns the time it takes. Remote runs count in TLB (irq_tlb_count),
    /// early exits included. <paramref name="mmTlbGen"/> is mm->context.tlb_gen as the handler reads it.
    /// </summary>
    public long FlushTlbFunc(in FlushTlbInfo info, long mmTlbGen, bool local, long at, ISimContext ctx)
    {
        var costs = cpu.Costs;
        if (!local) cpu.Stats.Tlb++;
        var cost = costs.FlushTlbFuncBaseNs;
        var task = cpu.Tracer.CurrentTask;
        if (info.Mm != LoadedMm)
        {
            // "The CPU was left in the mm_cpumask of the target mm. Clear it."
            ctx.Send(info.Mm, at + costs.MmContextAccessNs, EventKind.MmCpumaskClear);
            cpu.Tracer.TlbFlush(at + cost, task, 0, TlbFlushReason.RemoteWrongCpu);
            return cost;
        }
        if (IsLazy)
        {
            // A lazy CPU switches to init_mm rather than flush: the next switch_mm catches up.
            SwitchToInitMm();
            NoteActiveMm(ctx);
            return cost;
        }
        var reason = local ? TlbFlushReason.LocalMmShootdown : TlbFlushReason.RemoteShootdown;
        var localTlbGen = _loadedMmTlbGen ?? info.NewTlbGen - 1;
        if (localTlbGen >= info.NewTlbGen)
        {
            // "The TLB is already up to date in respect to f->new_tlb_gen": an earlier flush drained
            // with this one caught up. The kernel returns before the tracepoint.
            return cost;
        }
        var target = Math.Max(info.NewTlbGen, mmTlbGen);
        var partial = !info.Full && info.NewTlbGen == localTlbGen + 1 && info.NewTlbGen == target;
        _loadedMmTlbGen = target;
        cost += partial ? info.Pages * costs.FlushTlbPerPageNs : costs.FlushTlbFullNs;
        cpu.Tracer.TlbFlush(at + cost, task, partial ? info.Pages : -1, reason);
        return cost;
    }

    /// <summary>should_flush_tlb(): the cond_func of a flush that freed no page tables.</summary>
    public bool ShouldFlushTlb(in FlushTlbInfo info)
    {
        if (IsLazy) return false;
        if (LoadedMm == info.Mm) return true;
        // Once a second per mm, also IPI CPUs that left it, so they clear their mm_cpumask bit.
        return info.TrimCpumask;
    }

    private void SwitchToInitMm()
    {
        LoadedMm = Cpu.InitMm;
        IsLazy = false;
        _loadedMmTlbGen = null;
    }

    /// <summary>
    /// With INVLPGB, tells the mms whether this CPU has them loaded and not lazy: the state
    /// mm_active_cpus_exceeds() reads for consider_global_asid(). Nothing is sent otherwise.
    /// </summary>
    private void NoteActiveMm(ISimContext ctx)
    {
        if (!cpu.Setup.Features.Invlpgb) return;
        var active = LoadedMm != Cpu.InitMm && !IsLazy ? LoadedMm : Cpu.InitMm;
        if (active == _activeMm) return;
        var at = ctx.Now + cpu.Costs.MmContextAccessNs;
        if (_activeMm != Cpu.InitMm) ctx.Send(_activeMm, at, EventKind.MmActiveChange, flags: 0);
        if (active != Cpu.InitMm) ctx.Send(active, at, EventKind.MmActiveChange, flags: 1);
        _activeMm = active;
    }
}
