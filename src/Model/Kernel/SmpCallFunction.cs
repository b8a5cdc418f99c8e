using System.Buffers;
using Shootdown.Model.Costs;
using Shootdown.Model.Simulation;
using Shootdown.Model.Tracing;

namespace Shootdown.Model.Kernel;

/// <summary>
/// kernel/smp.c, one CPU's side of it: the sender (<c>smp_call_function_many_cond()</c> with
/// wait=1 and its <c>csd_lock_wait()</c>) and the target (<c>call_single_queue</c>,
/// <c>sysvec_call_function</c> and <c>__flush_smp_call_function_queue()</c>). Generic, as in the
/// kernel: what a csd does is its <see cref="Csd.Func"/>, which the owning CPU runs.
/// </summary>
public sealed class SmpCallFunction(Cpu cpu)
{
    /// <summary>
    /// Where a call's per-target arrays come from. A storm keeps hundreds of broadcasts to every
    /// CPU in flight at once, more than the shared pool keeps per size; arrays it cannot keep
    /// would be garbage, tens of kilobytes per call. Shared by every CPU, and thread-safe, since
    /// a silo runs many CPUs on many threads.
    /// </summary>
    private static class Pools
    {
        private const int MaxCpus = 1 << 20, ArraysKept = 1024;
        public static readonly ArrayPool<int> Ints = ArrayPool<int>.Create(MaxCpus, ArraysKept);
        public static readonly ArrayPool<long> Longs = ArrayPool<long>.Create(MaxCpus, ArraysKept);
        public static readonly ArrayPool<bool> Bools = ArrayPool<bool>.Create(MaxCpus, ArraysKept);
    }

    /// <summary>
    /// One smp_call_function_many_cond() in flight from this CPU, waiting in csd_lock_wait().
    /// Each target's answer is kept by CPU number, as the kernel keeps a csd per CPU, so an ack
    /// needs no lookup. The arrays are pooled (<see cref="Pools"/>).
    /// </summary>
    public sealed class Call
    {
        public Call(long serial, int[] targets, int count, int nrCpus, long waitStart, OpTraceBuilder? trace, Topology.CpuMask.Builder? interrupted)
        {
            Serial = serial;
            Targets = targets;
            Count = count;
            WaitStart = waitStart;
            Trace = trace;
            Interrupted = interrupted;
            UnlockTime = Pools.Longs.Rent(nrCpus);
            Declined = Pools.Bools.Rent(nrCpus);
            for (var j = 0; j < count; j++) Declined[targets[j]] = false;
        }

        public long Serial { get; }
        /// <summary>The targets in CPU order; the first <see cref="Count"/> entries are valid.</summary>
        public int[] Targets { get; }
        public int Count { get; }
        /// <summary>When each target CPU's csd was unlocked, by CPU number.</summary>
        public long[] UnlockTime { get; }
        /// <summary>Whether each target CPU's cond_func declined, by CPU number.</summary>
        public bool[] Declined { get; }
        public long WaitStart { get; }
        /// <summary>The sampled operation this call belongs to, if any.</summary>
        public OpTraceBuilder? Trace { get; }
        /// <summary>Where the CPUs that took an interrupt for this call are noted, when the run checks safety.</summary>
        public Topology.CpuMask.Builder? Interrupted { get; }
        public int Acks { get; set; }
        public int DeclinedCount { get; set; }
        public long LastDeclinedAck { get; set; }
        public int Queued => Count - DeclinedCount;

        public void Release()
        {
            Pools.Ints.Return(Targets);
            Pools.Longs.Return(UnlockTime);
            Pools.Bools.Return(Declined);
        }
    }

    /// <summary>
    /// A csd this CPU has queued, with what its func needs: 40 bytes. In a storm every CPU's
    /// queue holds a csd from each of hundreds of senders at once.
    /// </summary>
    private readonly record struct QueuedCsd(long Call, FlushTlbInfo Info, int Sender, CsdFunc Func, bool Coalesced)
    {
        public Csd Csd => new(Func, CsdCond.None, Info);
    }

    [ThreadStatic] private static long[]? t_clusterDepart;
    [ThreadStatic] private static int[]? t_clusterStamp;
    [ThreadStatic] private static int t_stamp;

    private readonly List<QueuedCsd> _callSingleQueue = new();
    private long _callSerial;

    /// <summary>The call this CPU waits on in csd_lock_wait(), if any.</summary>
    public Call? InFlight { get; private set; }

    /// <summary>A pooled array for a call's targets; the call owns it once made.</summary>
    public static int[] RentTargets(int capacity) => Pools.Ints.Rent(Math.Max(1, capacity));

    /// <summary>
    /// smp_call_function_many_cond(), wait=1. Per target, in CPU order: the csd setup and
    /// llist_add (CsdSetupPerTargetNs each). Then the IPIs, by APIC mode: the all-but-self
    /// shorthand (one ICR write) when the targets plus this CPU are every online CPU, one write
    /// per x2APIC cluster, or one per CPU. Then, with SCF_RUN_LOCAL, the func here with IRQs off.
    /// Then csd_lock_wait() on each target in turn (<see cref="CsdLockWaitDone"/>).
    /// <para>
    /// The model charges an ICR write for every target. The kernel IPIs only those whose queue
    /// was empty (cfd->cpumask_ipi) and falls back from the shorthand to a mask send when any was
    /// not; it learns that from llist_add's return, which the model's sender does not see.
    /// </para>
    /// <paramref name="targets"/> is a pooled, sorted array of which <paramref name="count"/> are
    /// valid; the call owns it. The sender starts at <paramref name="now"/>, which a local flush
    /// done first may put after the current time. The call is <see cref="InFlight"/> until the
    /// caller's step ends (<see cref="ReleaseInFlight"/>); with no targets the wait is over at once.
    /// </summary>
    public void SmpCallFunctionManyCond(int[] targets, int count, in Csd csd, bool runLocal, long now, OpTraceBuilder? trace,
        Topology.CpuMask.Builder? interrupted, ISimContext ctx)
    {
        var costs = cpu.Costs;
        var machine = cpu.Machine;
        var serial = ++_callSerial;
        var icrStart = now + count * costs.CsdSetupPerTargetNs;
        var t = icrStart;
        var shorthand = costs.IpiShorthand && count == machine.CpuCount - 1;
        var cluster = !shorthand && costs.ApicMode == ApicMode.X2ApicCluster;
        if (shorthand) t += costs.IcrWriteNs;
        if (cluster) NewClusterWalk();

        var flags = CsdQueued.Flags(csd);
        // send_call_function_ipi_mask() after the last llist_add; the mask is known to the
        // targets (whose queue was empty), so the trace renderer assembles it from their lines.
        cpu.Tracer.Event(icrStart, cpu.Id, FtraceEvent.IpiSend, cpu.Tracer.TaskOf(csd.Info.Mm), call: serial, func: csd.Func);
        trace?.BeginCall(csd.Func, now, count);
        for (var j = 0; j < count; j++)
        {
            long depart;
            if (shorthand)
            {
                depart = t;
            }
            else if (cluster)
            {
                // __x2apic_send_IPI_mask(): walk the mask in CPU order, one write per cluster met.
                var c = machine.X2ApicClusterIndexOf(targets[j]);
                if (t_clusterStamp![c] != t_stamp)
                {
                    t += costs.IcrWriteNs;
                    t_clusterStamp[c] = t_stamp;
                    t_clusterDepart![c] = t;
                }
                depart = t_clusterDepart![c];
            }
            else
            {
                t += costs.IcrWriteNs;
                depart = t;
            }
            var land = now + (j + 1) * costs.CsdSetupPerTargetNs;
            var arrival = depart + costs.IpiDelivery(machine, cpu.Id, targets[j]);
            CsdQueued.Send(ctx, targets[j], land, serial, csd, flags, arrival);
            trace?.Target(j, targets[j], land, arrival);
        }
        trace?.IpisSent(t, runLocal);

        if (runLocal)
        {
            // SCF_RUN_LOCAL: the func here, IRQs off, while the remote IPIs are in flight.
            t += cpu.RunCsdFunc(csd, csd.Info.NewTlbGen, local: true, t, ctx);
            cpu.Irqs.LocalFlushUntil = t;
        }
        var call = new Call(serial, targets, count, machine.CpuCount, t, trace, interrupted);
        InFlight = call;
        if (count == 0) Answered(call, ctx);
    }

    /// <summary>Starts a fresh walk over the x2APIC clusters, with this thread's scratch arrays.</summary>
    private void NewClusterWalk()
    {
        var clusters = cpu.Machine.ClusterCount;
        if (t_clusterStamp is null || t_clusterStamp.Length < clusters)
        {
            t_clusterStamp = new int[clusters];
            t_clusterDepart = new long[clusters];
            t_stamp = 0;
        }
        if (++t_stamp == int.MaxValue)
        {
            Array.Clear(t_clusterStamp);
            t_stamp = 1;
        }
    }

    /// <summary>
    /// __smp_call_single_queue(): the sender's llist_add() onto this CPU's call_single_queue lands. A conditional call first
    /// asks its cond_func about this CPU; a CPU it rejects gets no csd. If the queue was empty the
    /// sender IPIs this CPU (the IPI arrives at its arrival time); otherwise the pending interrupt
    /// will drain this csd too, and no new interrupt is raised.
    /// </summary>
    public void SmpCallSingleQueue(in SimEvent e, ISimContext ctx)
    {
        var queued = new CsdQueued(in e);
        var csd = queued.Csd;
        if (!cpu.RunCondFunc(csd, ctx.Now))
        {
            CsdUnlocked.SendDeclined(ctx, queued.Sender, ctx.Now + cpu.Costs.CacheLineTransfer(cpu.Machine, cpu.Id, queued.Sender), queued.Call);
            return;
        }
        var wasEmpty = _callSingleQueue.Count == 0;
        // trace_csd_queue_cpu() runs on the sender once cond_func has passed; llist_add()'s
        // answer (was the queue empty) decides whether this CPU is in the IPI's mask.
        cpu.Tracer.Event(ctx.Now, queued.Sender, FtraceEvent.CsdQueueCpu, cpu.Tracer.TaskOf(csd.Info.Mm), peer: cpu.Id, call: queued.Call, func: csd.Func, ipi: wasEmpty);
        _callSingleQueue.Add(new QueuedCsd(queued.Call, csd.Info, queued.Sender, csd.Func, Coalesced: !wasEmpty));
        if (wasEmpty) ctx.Send(cpu.Id, Math.Max(queued.IpiArrival, ctx.Now), EventKind.InterruptRaise);
    }

    /// <summary>
    /// The IPI arrives (or a deferred dispatch comes due). It is taken once IRQs are enabled, no
    /// handler is running and the vCPU is not preempted; a walk that disabled IRQs meanwhile defers it again.
    /// </summary>
    public void InterruptRaised(ISimContext ctx)
    {
        var start = cpu.Irqs.EnabledFrom(ctx.Now);
        if (start > ctx.Now) ctx.Send(cpu.Id, start, EventKind.InterruptDispatch);
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
        // llist_del_all(): every csd queued so far is this interrupt's; the queue is empty again
        // once they have run (nothing can land meanwhile: a csd from another CPU is an event of
        // its own, later), and new csds will raise a new IPI.
        var entries = _callSingleQueue;
        NoteTlbGensSeen(entries);

        var stats = cpu.Stats;
        stats.Cal++;
        var t = ctx.Now + cpu.Costs.InterruptEntryNs;
        var task = cpu.Tracer.CurrentTask;
        foreach (var queued in entries)
        {
            var csd = queued.Csd;
            var funcStart = t;
            cpu.Tracer.Event(t, cpu.Id, FtraceEvent.CsdFunctionEntry, task, peer: queued.Sender, func: csd.Func);
            t += cpu.RunCsdFunc(csd, csd.Func == CsdFunc.FlushTlbFunc ? MmTlbGenSeen(csd.Info.Mm) : 0, local: false, t, ctx);
            cpu.Tracer.Event(t, cpu.Id, FtraceEvent.CsdFunctionExit, task, peer: queued.Sender, func: csd.Func);
            stats.CsdsHandled++;
            if (csd.Func == CsdFunc.TlbRemoveTableSmpSync) stats.SyncCsdsHandled++;
            // csd_unlock(): the sender's csd_lock_wait() sees it one cache-line transfer later.
            CsdUnlocked.SendUnlocked(ctx, queued.Sender, t + cpu.Costs.CacheLineTransfer(cpu.Machine, cpu.Id, queued.Sender), queued.Call,
                unlockedAt: t, funcStartedAt: funcStart, queued.Coalesced);
        }
        entries.Clear();
        t += cpu.Costs.InterruptExitNs;
        cpu.Irqs.HandlerBusyUntil = t;
        cpu.NoteInterruption(ctx.Now, t - ctx.Now);
    }

    private readonly List<(int Mm, long TlbGen)> _tlbGenSeen = new();

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
            var i = IndexOfTlbGenSeen(c.Info.Mm);
            if (i < 0) _tlbGenSeen.Add((c.Info.Mm, c.Info.NewTlbGen));
            else if (c.Info.NewTlbGen > _tlbGenSeen[i].TlbGen) _tlbGenSeen[i] = (c.Info.Mm, c.Info.NewTlbGen);
        }
    }

    private long MmTlbGenSeen(int mm) => _tlbGenSeen[IndexOfTlbGenSeen(mm)].TlbGen;

    private int IndexOfTlbGenSeen(int mm)
    {
        for (var i = 0; i < _tlbGenSeen.Count; i++)
            if (_tlbGenSeen[i].Mm == mm) return i;
        return -1;
    }

    /// <summary>A target unlocked its csd (or declined it). When all have answered, csd_lock_wait() is done.</summary>
    public void CsdAnswered(in SimEvent e, ISimContext ctx)
    {
        var ack = new CsdUnlocked(in e);
        var call = InFlight;
        if (call is null || call.Serial != ack.Call) throw new InvalidOperationException($"CPU {cpu.Id}: ack for call {ack.Call} with none in flight");
        call.Trace?.Answer(ack.Target, ack.FuncStartedAt, ack.UnlockedAt, ctx.Now, ack.Declined, ack.Coalesced);
        if (ack.Declined)
        {
            call.Declined[ack.Target] = true;
            call.DeclinedCount++;
            call.LastDeclinedAck = Math.Max(call.LastDeclinedAck, ctx.Now);
        }
        else
        {
            call.UnlockTime[ack.Target] = ack.UnlockedAt;
            call.Interrupted?.Set(ack.Target);
        }
        if (++call.Acks == call.Count) Answered(call, ctx);
    }

    /// <summary>Every target has answered (or there were none): the caller's step ends when csd_lock_wait() has seen them all.</summary>
    private void Answered(Call call, ISimContext ctx)
    {
        var done = CsdLockWaitDone(call, ctx.Now);
        call.Trace?.CallDone(done);
        StepDone.Send(ctx, cpu.Id, done, call.Serial);
    }

    /// <summary>The caller is done with the call in flight (its step has ended): its arrays go back to the pool.</summary>
    public void ReleaseInFlight()
    {
        InFlight?.Release();
        InFlight = null;
    }

    /// <summary>
    /// csd_lock_wait() over the targets in CPU order: each poll waits for that csd's unlock and
    /// then pays one cache-line transfer from the target. A declined target was only read, during
    /// the setup loop, and its answer must be back.
    /// </summary>
    private long CsdLockWaitDone(Call call, long now)
    {
        var t = call.WaitStart;
        for (var j = 0; j < call.Count; j++)
        {
            var target = call.Targets[j];
            if (call.Declined[target]) continue;
            t = Math.Max(t, call.UnlockTime[target]) + cpu.Costs.CacheLineTransfer(cpu.Machine, target, cpu.Id);
        }
        return Math.Max(Math.Max(t, call.LastDeclinedAck), now);
    }
}
