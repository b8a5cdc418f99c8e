using Shootdown.Model.Simulation;
using Shootdown.Model.State;
using Shootdown.Model.Tracing;

namespace Shootdown.Model.Kernel;

/// <summary>
/// The <c>cond_func</c> of smp_call_function_many_cond(), as data. The kernel's sender calls it for
/// each CPU of the mask, reading that CPU's per-CPU state; here that state is the target's own,
/// so the sender's loop reads it as the csd lands (<see cref="Cpu.RunCondFunc"/>), and a target it
/// rejects gets no csd and is not IPI'd.
/// </summary>
public enum CsdCond : byte
{
    /// <summary>No cond_func: every CPU of the mask gets the csd.</summary>
    None,
    /// <summary>arch/x86/mm/tlb.c should_flush_tlb().</summary>
    ShouldFlushTlb,
    /// <summary>What-if (Hildenbrand step 2): the target is inside a tracked lockless page-table walk.</summary>
    InLocklessWalk,
    /// <summary>synchronize_rcu_expedited(): the target is not in an extended quiescent state (not idle).</summary>
    NotInEqs,
}

/// <summary>arch/x86/include/asm/tlbflush.h <c>struct flush_tlb_info</c>, as far as the model reads it.</summary>
/// <param name="Mm">The mm entity being flushed (<see cref="Cpu.InitMm"/> for a sync, whose func ignores its argument).</param>
/// <param name="Pages">Pages in the range; <paramref name="Full"/> says the range became TLB_FLUSH_ALL.</param>
/// <param name="NewTlbGen">The generation inc_mm_tlb_gen() returned.</param>
/// <param name="TrimCpumask">should_trim_cpumask() said yes: CPUs that left the mm get the flush too.</param>
public readonly record struct FlushTlbInfo(int Mm, int Pages, long NewTlbGen, bool Full, bool TrimCpumask) : IStateRecord<FlushTlbInfo>
{
    public void Write(StateWriter w)
    {
        w.Int(Mm);
        w.Int(Pages);
        w.Long(NewTlbGen);
        w.Bool(Full);
        w.Bool(TrimCpumask);
    }

    public static FlushTlbInfo Read(StateReader r) => new(r.Int(), r.Int(), r.Long(), r.Bool(), r.Bool());
}

/// <summary>
/// A call_single_data: the func, its cond_func and its argument. <paramref name="FromKhugepaged"/>
/// is not the kernel's: the sender runs khugepaged, not the process whose mm the csd names, which
/// only ftrace's task column shows (csd_queue_cpu is recorded where the csd lands).
/// </summary>
public readonly record struct Csd(CsdFunc Func, CsdCond Cond, FlushTlbInfo Info, bool FromKhugepaged) : IStateRecord<Csd>
{
    public void Write(StateWriter w)
    {
        w.Enum(Func);
        w.Enum(Cond);
        Info.Write(w);
        w.Bool(FromKhugepaged);
    }

    public static Csd Read(StateReader r) => new(r.Enum<CsdFunc>(), r.Enum<CsdCond>(), FlushTlbInfo.Read(r), r.Bool());

    /// <summary>tlb_remove_table_sync_one()'s csd for the caller's <paramref name="mm"/> (only named in traces).</summary>
    public static Csd Sync(int mm, CsdCond cond, bool fromKhugepaged) => new(CsdFunc.TlbRemoveTableSmpSync, cond, new FlushTlbInfo(mm, 0, 0, false, false), fromKhugepaged);
}
