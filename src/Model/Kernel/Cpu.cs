using Shootdown.Model.Results;
using Shootdown.Model.Safety;
using Shootdown.Model.Simulation;
using Shootdown.Model.State;
using Shootdown.Model.Topology;
using Shootdown.Model.Tracing;

namespace Shootdown.Model.Kernel;

/// <summary>
/// One logical CPU. It owns one piece per kernel file, each holding its own state:
/// <list type="bullet">
/// <item><see cref="Tlb"/>: arch/x86/mm/tlb.c's per-CPU state and flush_tlb_func();</item>
/// <item><see cref="Flush"/>: flush_tlb_mm_range(), through the <see cref="FlushBackend"/> chosen at boot;</item>
/// <item><see cref="Smp"/>: kernel/smp.c, both the sender's and the target's side;</item>
/// <item><see cref="Gather"/>: mm/mmu_gather.c, tlb_remove_table() and the syncs;</item>
/// <item><see cref="Ops"/>: the kernel operations this CPU initiates (mm/khugepaged.c, mm/hugetlb.c…);</item>
/// <item><see cref="Scheduler"/>: kernel/sched as far as the TLB cares;</item>
/// <item><see cref="Walkers"/>: lockless page-table walkers (mm/gup.c and others);</item>
/// <item><see cref="Irqs"/>: when this CPU can take an interrupt;</item>
/// <item><see cref="Rcu"/>: kernel/rcu/tree.c, synchronize_rcu() and this CPU's quiescent states;</item>
/// <item><see cref="Idle"/>: the idle state it sleeps in when nothing runs (kernel/sched/idle.c, drivers/cpuidle).</item>
/// </list>
/// This class routes each event to its piece and runs a csd's func and cond_func, which the
/// generic smp_call_function code holds as data.
/// </summary>
public sealed class Cpu : ISimEntity, IWaitCompletion, IWakeLatency
{
    /// <summary>The mm id of <c>init_mm</c>: loaded by kernel threads and by a lazy CPU once a flush kicks it off.</summary>
    public const int InitMm = -1;

    private long _osnoisePeriod = -1;
    private long _osnoisePeriodNoise;

    public Cpu(SimulationSetup setup, int cpu, IOpTraceSink? tracing = null)
    {
        Setup = setup;
        Machine = setup.Machine;
        Costs = setup.Costs;
        Id = cpu;
        Tracing = tracing;
        var entity = (ulong)cpu;
        Irqs = new LocalIrqs(setup, cpu, new Prng(setup.Seed, entity, RandomStream.IrqOffPhases));
        Tlb = new TlbState(this);
        Flush = new TlbFlush(this);
        Smp = new SmpCallFunction(this);
        Gather = new MmuGather(this);
        Ops = new KernelOperations(this, new Prng(setup.Seed, entity, RandomStream.OpArrivals));
        Scheduler = new Scheduler(this, new Prng(setup.Seed, entity, RandomStream.Scheduler));
        Walkers = new LocklessWalkers(this, new Prng(setup.Seed, entity, RandomStream.Walkers));
        Idle = new CpuIdle(this);
        Rcu = new RcuTree(this);
        NohzFull = setup.NohzFullCpus.Contains(cpu);
        Tracer = new CpuTrace(this);
    }

    public int Id { get; }
    public SimulationSetup Setup { get; }
    public Machine Machine { get; }
    public Costs.CostModel Costs { get; }

    /// <summary>Where sampled operations go, if the run traces them.</summary>
    public IOpTraceSink? Tracing { get; }

    public LocalIrqs Irqs { get; }
    public TlbState Tlb { get; }
    public TlbFlush Flush { get; }
    public SmpCallFunction Smp { get; }
    public MmuGather Gather { get; }
    public KernelOperations Ops { get; }
    public Scheduler Scheduler { get; }
    public LocklessWalkers Walkers { get; }
    public CpuIdle Idle { get; }
    public RcuTree Rcu { get; }
    public CpuTrace Tracer { get; }

    public CpuStats Stats { get; } = new();
    public List<OpRecord> CompletedOps => Ops.Completed;
    public List<TableRetire> Retires => Ops.Retires;
    public List<WalkRecord> Walks => Walkers.Walks;
    public List<FtraceRecord> FtraceRecords => Tracer.Records;
    public CpuStats? StatsAtWindowStart => Tracer.StatsAtWindowStart;
    public CpuStats? StatsAtWindowEnd => Tracer.StatsAtWindowEnd;

    public void Start(ISimContext ctx)
    {
        Scheduler.Start(ctx);
        Ops.Start(ctx);
        Walkers.Start(ctx);
    }

    /// <summary>
    /// What handling events changed, piece by piece; what the setup gives (the machine, the costs,
    /// the IRQ-off phases drawn at boot, the flush backend) is rebuilt by the constructor instead.
    /// The operation in progress is read before the call in flight, which belongs to it.
    /// </summary>
    public void WriteState(StateWriter w)
    {
        w.Long(_osnoisePeriod);
        w.Long(_osnoisePeriodNoise);
        Stats.WriteState(w);
        Irqs.WriteState(w);
        Tlb.WriteState(w);
        Ops.WriteState(w);
        Smp.WriteState(w);
        Scheduler.WriteState(w);
        Walkers.WriteState(w);
        Idle.WriteState(w);
        Rcu.WriteState(w);
        Tracer.WriteState(w);
    }

    public void ReadState(StateReader r)
    {
        _osnoisePeriod = r.Long();
        _osnoisePeriodNoise = r.Long();
        Stats.ReadState(r);
        Irqs.ReadState(r);
        Tlb.ReadState(r);
        Ops.ReadState(r);
        Smp.ReadState(r);
        Scheduler.ReadState(r);
        Walkers.ReadState(r);
        Idle.ReadState(r);
        Rcu.ReadState(r);
        Tracer.ReadState(r);
    }

    public void Handle(in SimEvent e, ISimContext ctx)
    {
        Tracer.NoteWindowSnapshots(e.Time);
        switch (e.Kind)
        {
            case EventKind.CsdQueue: Smp.SmpCallSingleQueue(e, ctx); break;
            case EventKind.CsdQueueAnswer: Smp.CsdQueueAnswer(e, ctx); break;
            case EventKind.InterruptRaise: Smp.InterruptRaised(ctx); break;
            case EventKind.InterruptDispatch: Smp.InterruptDispatched(ctx); break;
            case EventKind.IdleWake: Smp.IdleWake(e, ctx); break;
            case EventKind.DirectedYield: Smp.DirectedYield(ctx); break;
            case EventKind.CsdAck: Smp.CsdAnswered(e, ctx); break;
            case EventKind.MmFlushMask: Flush.FlushMaskRead(e, ctx); break;
            case EventKind.MmPmdUnshared: Ops.PmdUnshared(e, ctx); break;
            case EventKind.MmCpumaskSnapshot: Gather.CpumaskSnapshot(e, ctx); break;
            case EventKind.WalkBegin: Walkers.WalkBegin(e, ctx); break;
            case EventKind.RcuQsRequest: Rcu.RcuQsRequest(e, ctx); break;
            case EventKind.RcuQsReport: Rcu.RcuQsReport(e, ctx); break;
            case EventKind.OpArrival: Ops.OpArrival(e, ctx); break;
            case EventKind.OpStepDone: Ops.OpStepDone(e, ctx); break;
            case EventKind.ThreadArrive: Scheduler.ThreadArrive(e, ctx); break;
            case EventKind.ThreadSleep: Scheduler.ThreadSleep(e, ctx); break;
            case EventKind.ThreadWake: Scheduler.ThreadWake(e, ctx); break;
            case EventKind.ThreadMigrate: Scheduler.ThreadMigrate(e, ctx); break;
            case EventKind.Timeslice: Scheduler.Timeslice(ctx); break;
            default: throw new InvalidOperationException($"CPU {Id} cannot handle {e.Kind}");
        }
    }

    /// <summary>
    /// do_idle() or not: from <paramref name="t"/> this CPU idles when no thread is runnable and
    /// no operation is in progress, and otherwise leaves idle.
    /// </summary>
    public void ReconsiderIdle(long t)
    {
        if (Scheduler.HasRunnable || Ops.InProgress) Idle.Leave(t);
        else Idle.DoIdle(t);
    }

    /// <summary>Whether an interrupt now finds a workload thread in user mode: one runs, and this CPU is in no kernel operation.</summary>
    public bool InUserMode => Scheduler.HasRunnable && !Ops.InProgress;

    /// <summary>nohz_full= names this CPU: in user mode its tick is off and context tracking runs on each kernel entry and exit.</summary>
    public bool NohzFull { get; }

    /// <summary>
    /// rcu_watching_snap_in_eqs(): an extended quiescent state, where RCU does not watch the CPU:
    /// idle, or user mode on a nohz_full CPU (ct_user_enter()).
    /// </summary>
    public bool InExtendedQuiescentState(long now) => Idle.IsIdle(now) || NohzFull && InUserMode;

    /// <summary>A csd's func (csd->func(csd->info)), here; returns how long it ran.</summary>
    /// <param name="mmTlbGen">mm->context.tlb_gen as a flush_tlb_func() here reads it.</param>
    public long RunCsdFunc(in Csd csd, long mmTlbGen, bool local, long at, ISimContext ctx) => csd.Func switch
    {
        CsdFunc.TlbRemoveTableSmpSync => Costs.SyncFunctionNs,
        _ => Tlb.FlushTlbFunc(csd.Info, mmTlbGen, local, at, ctx),
    };

    /// <summary>A csd's cond_func, asked about this CPU when the sender's loop reaches it.</summary>
    public bool RunCondFunc(in Csd csd, long now) => csd.Cond switch
    {
        CsdCond.ShouldFlushTlb => Tlb.ShouldFlushTlb(csd.Info),
        CsdCond.InLocklessWalk => Irqs.InLocklessWalk(now),
        CsdCond.NotInEqs => !InExtendedQuiescentState(now),
        _ => true,
    };

    /// <summary>
    /// An interrupt handler ran from <paramref name="start"/> for <paramref name="duration"/>: time
    /// stolen from whatever this CPU was doing. osnoise sums noise per period and reports the
    /// largest sum as Max Noise; an interruption counts whole in the period it starts in.
    /// </summary>
    public void NoteInterruption(long start, long duration)
    {
        Stats.StolenNs += duration;
        Stats.MaxSingleNs = Math.Max(Stats.MaxSingleNs, duration);
        var period = start / Setup.Workload.OsnoisePeriodNs;
        if (period != _osnoisePeriod)
        {
            _osnoisePeriod = period;
            _osnoisePeriodNoise = 0;
        }
        _osnoisePeriodNoise += duration;
        Stats.MaxPeriodNoiseNs = Math.Max(Stats.MaxPeriodNoiseNs, _osnoisePeriodNoise);
    }

    /// <summary>A csd's unlock (<see cref="EventKind.CsdAck"/>) only counts towards the sender's csd_lock_wait(): see <see cref="SmpCallFunction.CsdLockWaitWrites"/>.</summary>
    public bool CountsTowardsWait(EventKind kind) => kind == EventKind.CsdAck;

    public EntityTimes WaitCompletionWrites(int held, long latest) => Smp.CsdLockWaitWrites(held, latest);

    /// <summary>An IPI that finds this CPU idle waits for it to leave the idle state (<see cref="CpuIdle.Wake"/>).</summary>
    public long WakeLatencyFrom(long from) => Idle.ExitLatencyFrom(from);

    /// <summary>
    /// The earliest times at which handling <paramref name="e"/>, and whatever this CPU schedules
    /// for itself because of it, can make the CPU write state that another CPU owns (a csd, an
    /// ack, a migrated thread, or an mm's answer to its request) and state that an mm owns (a
    /// cpumask bit, tlb_gen, a share count). Whatever another entity sends a CPU, the CPU writes
    /// an mm no sooner than <see cref="SimulationSetup.FastestInteractionNs"/> after it. Kernel facts only:
    /// <list type="bullet">
    /// <item>A csd landing only queues and answers the sender, whose loop is over later; only the
    /// sender's IPI (or its wake of a polling CPU) makes the csd run.</item>
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
                return new EntityTimes(Math.Max(new CsdQueued(in e).AnswerAt, e.Time + interaction), long.MaxValue);
            case EventKind.InterruptRaise or EventKind.InterruptDispatch or EventKind.DirectedYield:
                return EntityTimes.Both(e.Time + costs.InterruptEntryNs + interaction);
            case EventKind.ThreadSleep or EventKind.ThreadWake or EventKind.ThreadMigrate or EventKind.ThreadArrive:
            {
                var thread = e.Kind == EventKind.ThreadArrive ? new ThreadArrived(in e).Thread : new ThreadEvent(in e).Thread;
                var migrates = setup.Workload.Processes[Kernel.Scheduler.ProcessOf(thread)].MigrateMeanNs is not null;
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

    /// <summary>
    /// <see cref="EarliestRemoteWrites"/> for an event that reaches this CPU first while it sleeps
    /// in an idle state it takes <paramref name="wakeLatency"/> to leave (<see cref="WakeLatencyFrom"/>),
    /// or null where that changes nothing. An IPI is taken once the CPU has left the state
    /// (SmpCallFunction.DispatchPending), and a polling CPU woken through its thread flags runs its
    /// csds, or takes the IPI, once it has left it (SmpCallFunction.IdleWake): each acks, or
    /// clears a cpumask bit, no sooner than that, after the entry where an interrupt is taken.
    /// </summary>
    public static EntityTimes? EarliestRemoteWritesWaking(in SimEvent e, SimulationSetup setup, long wakeLatency)
    {
        if (wakeLatency <= 0) return null;
        return e.Kind switch
        {
            EventKind.InterruptRaise => EntityTimes.Both(e.Time + wakeLatency + setup.Costs.InterruptEntryNs + setup.FastestInteractionNs),
            EventKind.IdleWake when !new IdleWoken(in e).Awake => EntityTimes.Both(e.Time + wakeLatency + setup.FastestInteractionNs),
            _ => null,
        };
    }
}
