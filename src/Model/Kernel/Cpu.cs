using Shootdown.Model.Results;
using Shootdown.Model.Safety;
using Shootdown.Model.Simulation;
using Shootdown.Model.Topology;
using Shootdown.Model.Tracing;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Kernel;

/// <summary>
/// One logical CPU: <c>cpu_tlbstate</c> (loaded mm, laziness, local tlb_gen), its
/// <c>call_single_queue</c>, the interrupt path, a tiny scheduler for the workload's threads, and
/// the kernel operations it initiates. The sender side of smp_call_function and the flush
/// paths live in the partial files beside this one.
/// </summary>
public sealed partial class Cpu : ISimEntity
{
    /// <summary>The mm id of <c>init_mm</c>: loaded by kernel threads and by a lazy CPU once a flush kicks it off.</summary>
    public const int InitMm = -1;

    private readonly SimulationSetup _setup;
    private readonly Machine _machine;
    private readonly Costs.CostModel _costs;
    private readonly Prng _rng;
    private readonly IOpTraceSink? _tracing;
    private List<QueuedCsd> _callSingleQueue = new();
    private List<QueuedCsd> _draining = new();
    private readonly List<(int Mm, long TlbGen)> _tlbGenSeen = new();
    private readonly long[] _irqOffPhase;
    private long _handlerBusyUntil;
    private long _localIrqOffUntil;
    private long _osnoisePeriod = -1;
    private long _osnoisePeriodNoise;

    public Cpu(SimulationSetup setup, int cpu, IOpTraceSink? tracing = null)
    {
        _tracing = tracing;
        _setup = setup;
        _machine = setup.Machine;
        _costs = setup.Costs;
        Id = cpu;
        _rng = new Prng(setup.Seed, (ulong)cpu);
        var irqOff = setup.IrqOffOn(cpu);
        _irqOffPhase = new long[irqOff.Length];
        for (var i = 0; i < irqOff.Length; i++) _irqOffPhase[i] = (long)(_rng.NextDouble() * irqOff[i].PeriodNs);
    }

    public int Id { get; }

    /// <summary><c>cpu_tlbstate.loaded_mm</c>, as an mm entity id, or <see cref="InitMm"/>.</summary>
    public int LoadedMm { get; private set; } = InitMm;

    /// <summary><c>cpu_tlbstate_shared.is_lazy</c>: running a kernel thread or idle on a borrowed user mm.</summary>
    public bool IsLazy { get; private set; }

    /// <summary>
    /// The loaded mm's tlb_gen as this CPU's TLB reflects it. Null right after switch_mm, which
    /// catches up with the mm's tlb_gen: the next flush is then taken as the next generation.
    /// </summary>
    private long? _loadedMmTlbGen;

    public CpuStats Stats { get; } = new();
    public List<OpRecord> CompletedOps { get; } = new();

    /// <summary>Tables this CPU's operations cleared and then reused or freed; recorded only when the run checks safety.</summary>
    public List<TableRetire> Retires { get; } = new();

    public void Start(ISimContext ctx)
    {
        StartThreads(ctx);
        StartOpStreams(ctx);
        StartWalkers(ctx);
    }

    public void Handle(in SimEvent e, ISimContext ctx)
    {
        if (_setup.Ftrace is not null) NoteWindowSnapshots(e.Time);
        switch (e.Kind)
        {
            case EventKind.CsdQueue: OnCsdQueued(e, ctx); break;
            case EventKind.InterruptRaise: OnInterruptRaised(ctx); break;
            case EventKind.InterruptDispatch: OnInterruptRaised(ctx); break;
            case EventKind.CsdAck: OnCsdAck(e, ctx); break;
            case EventKind.MmFlushMask: OnFlushMask(e, ctx); break;
            case EventKind.MmPmdUnshared: OnPmdUnshared(e, ctx); break;
            case EventKind.MmCpumaskSnapshot: OnCpumaskSnapshot(e, ctx); break;
            case EventKind.WalkBegin: OnWalkBegin(e, ctx); break;
            case EventKind.OpArrival: OnOpArrival(e, ctx); break;
            case EventKind.OpStepDone: OnOpStepDone(e, ctx); break;
            case EventKind.ThreadArrive: OnThreadArrive(e, ctx); break;
            case EventKind.ThreadSleep: OnThreadSleep(e, ctx); break;
            case EventKind.ThreadWake: OnThreadWake(e, ctx); break;
            case EventKind.ThreadMigrate: OnThreadMigrate(e, ctx); break;
            case EventKind.Timeslice: OnTimeslice(e, ctx); break;
            default: throw new InvalidOperationException($"CPU {Id} cannot handle {e.Kind}");
        }
    }

    // ------------------------------------------------------------------ receiving side

    /// <summary>A csd the target has queued, with what its func needs.</summary>
    private readonly record struct QueuedCsd(int Sender, long CallSerial, CsdFunc Func, int Mm, int Pages, long NewTlbGen, bool Full, bool Coalesced);

    /// <summary>
    /// kernel/smp.c: the sender's <c>llist_add()</c> onto this CPU's call_single_queue lands. If the
    /// queue was empty the sender IPIs us (the IPI arrives at X); otherwise the pending interrupt
    /// will drain this csd too, and no new interrupt is raised. A conditional call first evaluates
    /// should_flush_tlb() on this CPU's state; a CPU it rejects gets no csd at all.
    /// </summary>
    private void OnCsdQueued(in SimEvent e, ISimContext ctx)
    {
        var csd = CsdMessage.Decode(e);
        var accepted = csd.Cond switch
        {
            CsdCond.ShouldFlushTlb => ShouldFlushTlb(csd.Mm, csd.Trim),
            CsdCond.InLocklessWalk => InLocklessWalk(ctx.Now),
            _ => true,
        };
        if (!accepted)
        {
            ctx.Send(e.Source, ctx.Now + _costs.CacheLineTransfer(_machine, Id, e.Source), EventKind.CsdAck, e.Op, flags: CsdMessage.AckDeclined);
            return;
        }
        var wasEmpty = _callSingleQueue.Count == 0;
        // trace_csd_queue_cpu() runs on the sender once cond_func has passed; llist_add()'s
        // answer (was the queue empty) decides whether this CPU is in the IPI's mask.
        TraceEvent(ctx.Now, e.Source, FtraceEvent.CsdQueueCpu, TaskOf(csd.Mm), peer: Id, call: e.Op, func: csd.Func, ipi: wasEmpty);
        _callSingleQueue.Add(new QueuedCsd(e.Source, e.Op, csd.Func, csd.Mm, csd.Pages, csd.NewTlbGen, csd.Full, Coalesced: !wasEmpty));
        if (wasEmpty) ctx.Send(Id, Math.Max(e.X, ctx.Now), EventKind.InterruptRaise);
    }

    /// <summary>
    /// The IPI arrives (or a deferred dispatch comes due). It is taken once IRQs are enabled, no
    /// handler is running and the vCPU is not preempted; a walk that disabled IRQs meanwhile defers it again.
    /// </summary>
    private void OnInterruptRaised(ISimContext ctx)
    {
        var start = IrqsEnabledFrom(ctx.Now);
        if (start > ctx.Now) ctx.Send(Id, start, EventKind.InterruptDispatch);
        else FlushSmpCallFunctionQueue(ctx);
    }

    /// <summary>
    /// sysvec_call_function -> __flush_smp_call_function_queue(): take the whole queue
    /// (llist_del_all, then FIFO order), run each func and csd_unlock() it. CAL counts the
    /// interrupt once however many csds it drains.
    /// </summary>
    private void FlushSmpCallFunctionQueue(ISimContext ctx)
    {
        if (_callSingleQueue.Count == 0) return;
        // llist_del_all(): the queue is empty again from here on; new csds will raise a new IPI.
        (_draining, _callSingleQueue) = (_callSingleQueue, _draining);
        var entries = _draining;
        NoteTlbGensSeen(entries);

        Stats.Cal++;
        var t = ctx.Now + _costs.InterruptEntryNs;
        var task = CurrentTask;
        foreach (var csd in entries)
        {
            var funcStart = t;
            TraceEvent(t, Id, FtraceEvent.CsdFunctionEntry, task, peer: csd.Sender, func: csd.Func);
            t += csd.Func == CsdFunc.TlbRemoveTableSmpSync
                ? _costs.SyncFunctionNs
                : FlushTlbFunc(csd.Mm, csd.Pages, csd.Full, csd.NewTlbGen, MmTlbGenSeen(csd.Mm), local: false, t, ctx);
            TraceEvent(t, Id, FtraceEvent.CsdFunctionExit, task, peer: csd.Sender, func: csd.Func);
            Stats.CsdsHandled++;
            if (csd.Func == CsdFunc.TlbRemoveTableSmpSync) Stats.SyncCsdsHandled++;
            // csd_unlock(): the sender's csd_lock_wait() sees it one cache-line transfer later.
            // Y and the coalesced flag only feed the sender's trace.
            ctx.Send(csd.Sender, t + _costs.CacheLineTransfer(_machine, Id, csd.Sender), EventKind.CsdAck, csd.CallSerial, x: t, y: funcStart,
                flags: csd.Coalesced ? CsdMessage.AckCoalesced : 0);
        }
        entries.Clear();
        t += _costs.InterruptExitNs;
        var duration = t - ctx.Now;
        _handlerBusyUntil = t;
        Stats.StolenNs += duration;
        Stats.MaxSingleNs = Math.Max(Stats.MaxSingleNs, duration);
        NoteOsnoisePeriodNoise(ctx.Now, duration);
    }

    /// <summary>
    /// osnoise sums noise per period and reports the largest sum as Max Noise. An interruption
    /// counts whole in the period it starts in; one straddling a boundary is not split.
    /// </summary>
    private void NoteOsnoisePeriodNoise(long start, long duration)
    {
        var period = start / _setup.Workload.OsnoisePeriodNs;
        if (period != _osnoisePeriod)
        {
            _osnoisePeriod = period;
            _osnoisePeriodNoise = 0;
        }
        _osnoisePeriodNoise += duration;
        Stats.MaxPeriodNoiseNs = Math.Max(Stats.MaxPeriodNoiseNs, _osnoisePeriodNoise);
    }

    /// <summary>
    /// The model's view of mm->context.tlb_gen inside a handler: the newest generation among the
    /// flushes drained together. A concurrent flush whose csd has not landed yet is not seen;
    /// the kernel would read it and do one full flush instead of a partial one. Taken once per
    /// interrupt, per mm (usually one).
    /// </summary>
    private void NoteTlbGensSeen(List<QueuedCsd> entries)
    {
        _tlbGenSeen.Clear();
        foreach (var c in entries)
        {
            if (c.Func != CsdFunc.FlushTlbFunc) continue;
            var i = IndexOfTlbGenSeen(c.Mm);
            if (i < 0) _tlbGenSeen.Add((c.Mm, c.NewTlbGen));
            else if (c.NewTlbGen > _tlbGenSeen[i].TlbGen) _tlbGenSeen[i] = (c.Mm, c.NewTlbGen);
        }
    }

    private long MmTlbGenSeen(int mm) => _tlbGenSeen[IndexOfTlbGenSeen(mm)].TlbGen;

    private int IndexOfTlbGenSeen(int mm)
    {
        for (var i = 0; i < _tlbGenSeen.Count; i++)
            if (_tlbGenSeen[i].Mm == mm) return i;
        return -1;
    }

    /// <summary>
    /// arch/x86/mm/tlb.c flush_tlb_func(). Returns the time it takes. Remote runs count in TLB
    /// (irq_tlb_count), early exits included.
    /// </summary>
    private long FlushTlbFunc(int mm, int pages, bool full, long newTlbGen, long mmTlbGen, bool local, long at, ISimContext ctx)
    {
        if (!local) Stats.Tlb++;
        var cost = _costs.FlushTlbFuncBaseNs;
        var task = CurrentTask;
        if (mm != LoadedMm)
        {
            // "The CPU was left in the mm_cpumask of the target mm. Clear it."
            ctx.Send(mm, at + _costs.MmContextAccessNs, EventKind.MmCpumaskClear);
            TraceTlbFlush(at + cost, task, 0, TlbFlushReason.RemoteWrongCpu);
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
        var localTlbGen = _loadedMmTlbGen ?? newTlbGen - 1;
        if (localTlbGen >= newTlbGen)
        {
            // "goto done": nothing to invalidate, the tracepoint still fires with 0 pages.
            TraceTlbFlush(at + cost, task, 0, reason);
            return cost;
        }
        var target = Math.Max(newTlbGen, mmTlbGen);
        var partial = !full && newTlbGen == localTlbGen + 1 && newTlbGen == target;
        _loadedMmTlbGen = target;
        cost += partial ? pages * _costs.FlushTlbPerPageNs : _costs.FlushTlbFullNs;
        TraceTlbFlush(at + cost, task, partial ? pages : -1, reason);
        return cost;
    }

    /// <summary>arch/x86/mm/tlb.c should_flush_tlb(): the cond_func of the non-freed_tables flush.</summary>
    private bool ShouldFlushTlb(int mm, bool trimCpumask)
    {
        if (IsLazy) return false;
        if (LoadedMm == mm) return true;
        // Once a second per mm, also IPI CPUs that left it, so they clear their mm_cpumask bit.
        return trimCpumask;
    }

    /// <summary>
    /// The earliest times at which handling <paramref name="e"/>, and whatever this CPU schedules
    /// for itself because of it, can make the CPU write state that another CPU owns (a csd, an
    /// ack, a migrated thread, or an mm's answer to its request) and state that an mm owns (a
    /// cpumask bit, tlb_gen, a share count). Whatever another entity sends a CPU, the CPU writes
    /// an mm no sooner than <see cref="SimulationSetup.FastestInteractionNs"/> after it. Kernel facts only:
    /// <list type="bullet">
    /// <item>A csd landing only queues: nothing leaves before its IPI is taken and
    /// sysvec_call_function has entered, except a declined conditional csd's answer.</item>
    /// <item>An interrupt acks its csds' senders and may clear a cpumask bit, after the entry.</item>
    /// <item>The scheduler writes the mm it switches to (switch_mm's cpumask bit) and reaches
    /// another CPU only by migrating a thread, which a process without <c>migrate_us</c> never
    /// does; it starts no smp_call_function.</item>
    /// <item>A walk begins and ends on this CPU alone: it only delays interrupts.</item>
    /// <item>Everything else (arrivals, acks, mm replies, step ends) can start an operation's
    /// next step: an mm access or an smp_call_function, one interaction later at the earliest.</item>
    /// </list>
    /// </summary>
    public static EntityTimes EarliestRemoteWrites(in SimEvent e, SimulationSetup setup)
    {
        var costs = setup.Costs;
        var interaction = setup.FastestInteractionNs;
        switch (e.Kind)
        {
            case EventKind.CsdQueue:
            {
                var handled = Math.Max(e.X, e.Time) + costs.InterruptEntryNs + interaction;
                return CsdMessage.Decode(e).Conditional ? new EntityTimes(e.Time + interaction, handled) : EntityTimes.Both(handled);
            }
            case EventKind.InterruptRaise or EventKind.InterruptDispatch:
                return EntityTimes.Both(e.Time + costs.InterruptEntryNs + interaction);
            case EventKind.ThreadSleep or EventKind.ThreadWake or EventKind.ThreadMigrate or EventKind.ThreadArrive:
            {
                var migrates = setup.Workload.Processes[(int)(e.Op >> 32)].MigrateMeanNs is not null;
                return new EntityTimes(migrates ? e.Time + costs.MigrationNs : long.MaxValue, e.Time + costs.MmContextAccessNs);
            }
            case EventKind.Timeslice:
                return new EntityTimes(long.MaxValue, e.Time + costs.MmContextAccessNs);
            case EventKind.WalkBegin:
                return EntityTimes.Never;
            default:
                return EntityTimes.Both(e.Time + interaction);
        }
    }

    /// <summary>The first time at or after <paramref name="t"/> at which this CPU can take an interrupt.</summary>
    private long IrqsEnabledFrom(long t)
    {
        var irqOff = _setup.IrqOffOn(Id);
        for (var guard = 0; guard < 64; guard++)
        {
            var start = Math.Max(t, Math.Max(_handlerBusyUntil, Math.Max(_localIrqOffUntil, _walkIrqOffUntil)));
            start = _setup.Preemption.RunningFrom(Id, start);
            for (var i = 0; i < irqOff.Length; i++)
                start = PeriodicWindow.SkipPast(start, _irqOffPhase[i], irqOff[i].PeriodNs, irqOff[i].DurationNs);
            if (start == t) return t;
            t = start;
        }
        return t;
    }

    private void SwitchToInitMm()
    {
        LoadedMm = InitMm;
        IsLazy = false;
        _loadedMmTlbGen = null;
    }
}
