using Shootdown.Model.Simulation;
using Shootdown.Model.Tracing;

namespace Shootdown.Model.Kernel;

// Typed views of the events a CPU and an mm exchange. SimEvent carries generic payload fields
// (Op, Arg, X, Y, Flags) so that every engine queues one plain value type; each view below reads
// one kind's fields by name, by reference (no copy, no allocation), and its Send writes them.

/// <summary><see cref="EventKind.CsdQueue"/>: the sender's llist_add() of a csd lands on the target's call_single_queue.</summary>
public readonly ref struct CsdQueued(ref readonly SimEvent e)
{
    private const int FlagSync = 1, FlagFull = 2, FlagCondShouldFlush = 4, FlagTrim = 8, FlagCondInWalk = 16, FlagCondNotInEqs = 32, FlagFromKhugepaged = 64, PagesShift = 8;
    private readonly ref readonly SimEvent _e = ref e;

    public int Sender => _e.Source;
    /// <summary>The smp_call_function_many_cond() this csd belongs to, numbered by its sender.</summary>
    public long Call => _e.Op;
    /// <summary>
    /// When the sender's loop is over: llist_add()'s answer (and cond_func's) is back at the sender
    /// by then, and the sender picks the CPUs to IPI from the answers.
    /// </summary>
    public long AnswerAt => _e.X;

    public Csd Csd => new(
        (_e.Flags & FlagSync) != 0 ? CsdFunc.TlbRemoveTableSmpSync : CsdFunc.FlushTlbFunc,
        (_e.Flags & FlagCondShouldFlush) != 0 ? CsdCond.ShouldFlushTlb : (_e.Flags & FlagCondInWalk) != 0 ? CsdCond.InLocklessWalk
            : (_e.Flags & FlagCondNotInEqs) != 0 ? CsdCond.NotInEqs : CsdCond.None,
        new FlushTlbInfo(_e.Arg, _e.Flags >> PagesShift, _e.Y, (_e.Flags & FlagFull) != 0, (_e.Flags & FlagTrim) != 0),
        (_e.Flags & FlagFromKhugepaged) != 0);

    public static int Flags(in Csd csd) =>
        (csd.Func == CsdFunc.TlbRemoveTableSmpSync ? FlagSync : 0) | (csd.Info.Full ? FlagFull : 0)
        | (csd.Cond == CsdCond.ShouldFlushTlb ? FlagCondShouldFlush : 0) | (csd.Cond == CsdCond.InLocklessWalk ? FlagCondInWalk : 0)
        | (csd.Cond == CsdCond.NotInEqs ? FlagCondNotInEqs : 0)
        | (csd.Info.TrimCpumask ? FlagTrim : 0) | (csd.FromKhugepaged ? FlagFromKhugepaged : 0) | (csd.Info.Pages << PagesShift);

    /// <param name="flags">The csd's <see cref="Flags"/>, computed once per call.</param>
    public static void Send(ISimContext ctx, int target, long landsAt, long call, in Csd csd, int flags, long answerAt) =>
        ctx.Send(target, landsAt, EventKind.CsdQueue, call, csd.Info.Mm, x: answerAt, y: csd.Info.NewTlbGen, flags: flags);
}

/// <summary>
/// <see cref="EventKind.CsdQueueAnswer"/>: what the sender's loop learnt about one target:
/// cond_func said no, or llist_add() found the queue empty (the CPU goes into cfd->cpumask_ipi),
/// and whether the CPU was polling idle then (send_call_function_single_ipi() reads it).
/// </summary>
public readonly ref struct CsdQueueAnswered(ref readonly SimEvent e)
{
    private const int FlagDeclined = 1, FlagQueueWasEmpty = 2, FlagPolling = 4, FlagIdle = 8;
    private readonly ref readonly SimEvent _e = ref e;

    public int Target => _e.Source;
    public long Call => _e.Op;
    public bool Declined => (_e.Flags & FlagDeclined) != 0;
    public bool QueueWasEmpty => (_e.Flags & FlagQueueWasEmpty) != 0;
    public bool Polling => (_e.Flags & FlagPolling) != 0;
    /// <summary>idle_cpu() was true (kvm_smp_send_call_func_ipi() yields only to a busy vCPU).</summary>
    public bool Idle => (_e.Flags & FlagIdle) != 0;

    public static void SendDeclined(ISimContext ctx, int sender, long at, long call) =>
        ctx.Send(sender, at, EventKind.CsdQueueAnswer, call, flags: FlagDeclined);

    public static void SendQueued(ISimContext ctx, int sender, long at, long call, bool queueWasEmpty, bool polling, bool idle) =>
        ctx.Send(sender, at, EventKind.CsdQueueAnswer, call, flags: (queueWasEmpty ? FlagQueueWasEmpty : 0) | (polling ? FlagPolling : 0) | (idle ? FlagIdle : 0));
}

/// <summary>
/// <see cref="EventKind.IdleWake"/>: set_nr_if_polling() on a polling idle CPU, from
/// send_call_function_single_ipi(), which sends no IPI; sent again to itself once the CPU is out
/// of its idle state (<see cref="Awake"/>).
/// </summary>
public readonly ref struct IdleWoken(ref readonly SimEvent e)
{
    private readonly ref readonly SimEvent _e = ref e;

    public bool Awake => _e.Flags != 0;

    public static void Send(ISimContext ctx, int cpu, long at) => ctx.Send(cpu, at, EventKind.IdleWake);

    public static void SendAwake(ISimContext ctx, int cpu, long at) => ctx.Send(cpu, at, EventKind.IdleWake, flags: 1);
}

/// <summary><see cref="EventKind.CsdAck"/>: the target's csd_unlock() as the sender's csd_lock_wait() sees it.</summary>
public readonly ref struct CsdUnlocked(ref readonly SimEvent e)
{
    private const int FlagCoalesced = 1;
    private readonly ref readonly SimEvent _e = ref e;

    public int Target => _e.Source;
    public long Call => _e.Op;
    /// <summary>When the target's handler unlocked the csd.</summary>
    public long UnlockedAt => _e.X;
    /// <summary>When the target's handler started the csd's func (for the sender's trace).</summary>
    public long FuncStartedAt => _e.Y;
    /// <summary>The csd joined a non-empty queue, so no new interrupt was raised for it.</summary>
    public bool Coalesced => (_e.Flags & FlagCoalesced) != 0;

    public static void SendUnlocked(ISimContext ctx, int sender, long at, long call, long unlockedAt, long funcStartedAt, bool coalesced) =>
        ctx.Send(sender, at, EventKind.CsdAck, call, x: unlockedAt, y: funcStartedAt, flags: coalesced ? FlagCoalesced : 0);
}

/// <summary><see cref="EventKind.MmFlushMask"/>: flush_tlb_mm_range()'s read of the mm: its new tlb_gen, mm_cpumask (attached) and ASID state.</summary>
public readonly ref struct FlushMaskRead(ref readonly SimEvent e)
{
    private const int FlagTrimCpumask = 1, FlagGlobalAsid = 2, FlagAsidTransition = 4;
    private readonly ref readonly SimEvent _e = ref e;

    public long NewTlbGen => _e.X;
    /// <summary>should_trim_cpumask() said yes.</summary>
    public bool TrimCpumask => (_e.Flags & FlagTrimCpumask) != 0;
    /// <summary>mm_global_asid(): the mm has a global ASID, so INVLPGB can flush it.</summary>
    public bool GlobalAsid => (_e.Flags & FlagGlobalAsid) != 0;
    /// <summary>in_asid_transition(): some CPUs may still run the mm on a per-CPU ASID.</summary>
    public bool AsidTransition => (_e.Flags & FlagAsidTransition) != 0;

    public static void Send(ISimContext ctx, int cpu, long at, long op, long newTlbGen, bool trim, bool globalAsid, bool asidTransition, Topology.CpuMask mask) =>
        ctx.Send(cpu, at, EventKind.MmFlushMask, op, x: newTlbGen,
            flags: (trim ? FlagTrimCpumask : 0) | (globalAsid ? FlagGlobalAsid : 0) | (asidTransition ? FlagAsidTransition : 0), mask: mask);
}

/// <summary><see cref="EventKind.MmPmdUnshared"/>: the owner mm's answer to huge_pmd_unshare().</summary>
public readonly ref struct PmdUnshared(ref readonly SimEvent e)
{
    private const int FlagWasShared = 1, FlagFullyUnshared = 2;
    private readonly ref readonly SimEvent _e = ref e;

    /// <summary>The sharer had a shared table to drop.</summary>
    public bool WasShared => (_e.Flags & FlagWasShared) != 0;
    /// <summary>The table is no longer shared: its last user may reuse it.</summary>
    public bool FullyUnshared => (_e.Flags & FlagFullyUnshared) != 0;

    public static void Send(ISimContext ctx, int cpu, long at, long op, bool wasShared, bool fullyUnshared) =>
        ctx.Send(cpu, at, EventKind.MmPmdUnshared, op, flags: (wasShared ? FlagWasShared : 0) | (fullyUnshared ? FlagFullyUnshared : 0));
}

/// <summary><see cref="EventKind.MmActiveChange"/>: with INVLPGB, a CPU starts or stops running the mm (loaded, not lazy).</summary>
public readonly ref struct MmActiveChanged(ref readonly SimEvent e)
{
    private readonly ref readonly SimEvent _e = ref e;
    public bool Active => _e.Flags != 0;

    public static void Send(ISimContext ctx, int mm, long at, bool active) => ctx.Send(mm, at, EventKind.MmActiveChange, flags: active ? 1 : 0);
}

/// <summary>
/// <see cref="EventKind.ThreadSleep"/>, <see cref="EventKind.ThreadWake"/>, <see cref="EventKind.ThreadMigrate"/>:
/// a thread's next state change, stale once the thread has moved (its generation changed).
/// </summary>
public readonly ref struct ThreadEvent(ref readonly SimEvent e)
{
    private const int FlagStopForGood = 1;
    private readonly ref readonly SimEvent _e = ref e;

    public long Thread => _e.Op;
    public int Generation => _e.Arg;
    /// <summary>On a sleep: the thread never wakes again (its process's stop time).</summary>
    public bool StopForGood => (_e.Flags & FlagStopForGood) != 0;

    public static void Send(ISimContext ctx, int cpu, long at, EventKind kind, long thread, int generation, bool stopForGood = false) =>
        ctx.Send(cpu, at, kind, thread, generation, flags: stopForGood ? FlagStopForGood : 0);
}

/// <summary><see cref="EventKind.ThreadArrive"/>: a migrated thread reaches its new CPU.</summary>
public readonly ref struct ThreadArrived(ref readonly SimEvent e)
{
    private readonly ref readonly SimEvent _e = ref e;

    public long Thread => _e.Op;
    public int Process => _e.Arg;
    public bool Runnable => (_e.Flags & 1) != 0;

    public static void Send(ISimContext ctx, int cpu, long at, long thread, int process, bool runnable) =>
        ctx.Send(cpu, at, EventKind.ThreadArrive, thread, process, flags: runnable ? 1 : 0);
}

/// <summary><see cref="EventKind.OpArrival"/>: an operation of one of this CPU's streams arrives.</summary>
public readonly ref struct OpArrived(ref readonly SimEvent e)
{
    private readonly ref readonly SimEvent _e = ref e;

    /// <summary>The stream's index among this CPU's (<see cref="SimulationSetup.StreamsOn"/>).</summary>
    public int Stream => _e.Arg;

    public static void Send(ISimContext ctx, int cpu, long at, int stream) => ctx.Send(cpu, at, EventKind.OpArrival, arg: stream);
}

/// <summary><see cref="EventKind.OpStepDone"/>: the wait of an operation's step is over (for a call's wait, the call's serial; else 0).</summary>
public readonly ref struct StepDone(ref readonly SimEvent e)
{
    private readonly ref readonly SimEvent _e = ref e;

    public long Call => _e.Op;

    public static void Send(ISimContext ctx, int cpu, long at, long call = 0) => ctx.Send(cpu, at, EventKind.OpStepDone, call);
}

/// <summary><see cref="EventKind.RcuQsRequest"/>: a CPU's synchronize_rcu() needs this CPU's quiescent state for its grace period.</summary>
public readonly ref struct RcuQsAsked(ref readonly SimEvent e)
{
    private readonly ref readonly SimEvent _e = ref e;

    /// <summary>The grace period, numbered by the CPU that waits for it.</summary>
    public long Gp => _e.Op;
    public long GpStart => _e.X;

    public static void Send(ISimContext ctx, int cpu, long at, long gp, long gpStart) => ctx.Send(cpu, at, EventKind.RcuQsRequest, gp, x: gpStart);
}

/// <summary><see cref="EventKind.RcuQsReport"/>: when the answering CPU passes (or passed) its quiescent state for the grace period.</summary>
public readonly ref struct RcuQsReported(ref readonly SimEvent e)
{
    private readonly ref readonly SimEvent _e = ref e;

    public long Gp => _e.Op;
    public long QuiescentAt => _e.X;

    public static void Send(ISimContext ctx, int waiter, long at, long gp, long quiescentAt) => ctx.Send(waiter, at, EventKind.RcuQsReport, gp, x: quiescentAt);
}

/// <summary><see cref="EventKind.WalkBegin"/>: one of this CPU's lockless walkers comes due.</summary>
public readonly ref struct WalkDue(ref readonly SimEvent e)
{
    private readonly ref readonly SimEvent _e = ref e;

    /// <summary>The walker's index among this CPU's (<see cref="SimulationSetup.WalkersOn"/>).</summary>
    public int Walker => _e.Arg;

    public static void Send(ISimContext ctx, int cpu, long at, int walker) => ctx.Send(cpu, at, EventKind.WalkBegin, arg: walker);
}

/// <summary>
/// A CPU's request to an mm, answered to the CPU with the same operation serial:
/// <see cref="EventKind.MmFlushBegin"/>, <see cref="EventKind.MmCpumaskRead"/> and
/// <see cref="EventKind.MmPmdUnshare"/> (whose sharer is the requesting process).
/// </summary>
public readonly ref struct MmRequest(ref readonly SimEvent e)
{
    private readonly ref readonly SimEvent _e = ref e;

    public int Cpu => _e.Source;
    public long Op => _e.Op;
    /// <summary>On <see cref="EventKind.MmPmdUnshare"/>: the process that drops its share.</summary>
    public int Sharer => _e.Arg;

    public static void Send(ISimContext ctx, int mm, long at, EventKind kind, long op, int sharer = 0) => ctx.Send(mm, at, kind, op, arg: sharer);
}

/// <summary><see cref="EventKind.MmCpumaskSet"/>: switch_mm_irqs_off() on the sending CPU, for one thread of the mm.</summary>
public readonly ref struct CpumaskSet(ref readonly SimEvent e)
{
    private readonly ref readonly SimEvent _e = ref e;

    public int Cpu => _e.Source;
    public long Thread => _e.Op;

    public static void Send(ISimContext ctx, int mm, long at, long thread) => ctx.Send(mm, at, EventKind.MmCpumaskSet, thread);
}
