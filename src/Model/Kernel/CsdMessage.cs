using Shootdown.Model.Simulation;

namespace Shootdown.Model.Kernel;

/// <summary>The function a csd carries.</summary>
public enum CsdFunc : byte
{
    /// <summary>arch/x86/mm/tlb.c flush_tlb_func().</summary>
    FlushTlbFunc,
    /// <summary>mm/mmu_gather.c tlb_remove_table_smp_sync(): empty, "Simply deliver the interrupt".</summary>
    TlbRemoveTableSmpSync,
}

/// <summary>The cond_func of a conditional call: evaluated for each target, which gets a csd only if it says yes.</summary>
public enum CsdCond : byte
{
    /// <summary>Unconditional: every target gets the csd.</summary>
    None,
    /// <summary>arch/x86/mm/tlb.c should_flush_tlb().</summary>
    ShouldFlushTlb,
    /// <summary>What-if (Hildenbrand step 2): the target is inside a tracked lockless page-table walk.</summary>
    InLocklessWalk,
}

/// <summary>
/// The payload of a <see cref="EventKind.CsdQueue"/> event: the csd's func and its
/// <c>struct flush_tlb_info</c>. Packed into <see cref="SimEvent"/>'s fields: Arg is the mm,
/// X the IPI's arrival time, Y <c>new_tlb_gen</c>, Flags the bits below plus the page count.
/// </summary>
public readonly record struct CsdMessage(CsdFunc Func, int Mm, int Pages, long NewTlbGen, bool Full, CsdCond Cond, bool Trim)
{
    private const int FlagSync = 1, FlagFull = 2, FlagCond = 4, FlagTrim = 8, FlagCondWalk = 16, PagesShift = 8;

    /// <summary>Flag on a <see cref="EventKind.CsdAck"/>: cond_func said no, nothing was queued.</summary>
    public const int AckDeclined = 1;

    /// <summary>Flag on a <see cref="EventKind.CsdAck"/>: the csd joined a non-empty queue, so no new interrupt was raised for it.</summary>
    public const int AckCoalesced = 2;

    public int EncodeFlags() =>
        (Func == CsdFunc.TlbRemoveTableSmpSync ? FlagSync : 0) | (Full ? FlagFull : 0)
        | (Cond == CsdCond.ShouldFlushTlb ? FlagCond : 0) | (Cond == CsdCond.InLocklessWalk ? FlagCondWalk : 0)
        | (Trim ? FlagTrim : 0) | (Pages << PagesShift);

    public static CsdMessage Decode(in SimEvent e) => new(
        (e.Flags & FlagSync) != 0 ? CsdFunc.TlbRemoveTableSmpSync : CsdFunc.FlushTlbFunc,
        e.Arg,
        e.Flags >> PagesShift,
        e.Y,
        (e.Flags & FlagFull) != 0,
        (e.Flags & FlagCond) != 0 ? CsdCond.ShouldFlushTlb : (e.Flags & FlagCondWalk) != 0 ? CsdCond.InLocklessWalk : CsdCond.None,
        (e.Flags & FlagTrim) != 0);

    public bool Conditional => Cond != CsdCond.None;

    public static CsdMessage Sync { get; } = new(CsdFunc.TlbRemoveTableSmpSync, Cpu.InitMm, 0, 0, false, CsdCond.None, false);

    /// <summary>The step-2 what-if: a sync csd only for CPUs inside a lockless walk.</summary>
    public static CsdMessage SyncIfInLocklessWalk { get; } = Sync with { Cond = CsdCond.InLocklessWalk };
}
