using System.Buffers;
using Shootdown.Model.Costs;
using Shootdown.Model.Simulation;
using Shootdown.Model.State;
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
        public static readonly ArrayPool<byte> Bytes = ArrayPool<byte>.Create(MaxCpus, ArraysKept);
    }

    /// <summary>What the sender's loop learnt about one target (<see cref="Call.Answer"/>).</summary>
    [Flags]
    public enum TargetAnswer : byte
    {
        None = 0,
        /// <summary>cond_func said no: no csd was queued.</summary>
        Declined = 1,
        /// <summary>llist_add() found the queue empty: the CPU is in cfd->cpumask_ipi.</summary>
        InCpumaskIpi = 2,
        /// <summary>The CPU was polling idle (TIF_POLLING_NRFLAG).</summary>
        Polling = 4,
        /// <summary>The CPU was idle (idle_cpu()).</summary>
        Idle = 8,
        /// <summary>The answer is in (with none of the flags above it is a plain queued csd).</summary>
        Answered = 16,
        /// <summary>The target unlocked its csd; <see cref="Call.UnlockTime"/> holds when.</summary>
        Unlocked = 32,
    }

    /// <summary>
    /// One smp_call_function_many_cond() in flight from this CPU: first its loop over the targets,
    /// whose answers come back at <see cref="LoopEnd"/>; then its IPIs; then csd_lock_wait().
    /// Each target's answer and unlock time are kept by CPU number, as the kernel keeps a csd per
    /// CPU, so an ack needs no lookup. The arrays are pooled (<see cref="Pools"/>).
    /// </summary>
    public sealed class Call
    {
        public Call(long serial, int[] targets, int count, int nrCpus, in Csd csd, bool runLocal, long start, long loopEnd, OpTraceBuilder? trace,
            Topology.CpuMask.Builder? interrupted)
        {
            Serial = serial;
            Start = start;
            Targets = targets;
            Count = count;
            Csd = csd;
            RunLocal = runLocal;
            LoopEnd = loopEnd;
            Trace = trace;
            Interrupted = interrupted;
            NrCpus = nrCpus;
            UnlockTime = Pools.Longs.Rent(nrCpus);
            Answer = Pools.Bytes.Rent(nrCpus);
            // A pooled array holds another call's answers: a target's byte says what is known of it,
            // and only targets' bytes are ever read, so only theirs are cleared.
            for (var j = 0; j < count; j++) Answer[targets[j]] = 0;
        }

        public int NrCpus { get; }

        public long Serial { get; }
        /// <summary>The targets in CPU order; the first <see cref="Count"/> entries are valid.</summary>
        public int[] Targets { get; }
        public int Count { get; }
        public Csd Csd { get; }
        /// <summary>SCF_RUN_LOCAL: the func also runs here, once the IPIs are sent.</summary>
        public bool RunLocal { get; }
        /// <summary>When the loop began.</summary>
        public long Start { get; }
        /// <summary>When the loop's last llist_add() is back: every target's answer is in.</summary>
        public long LoopEnd { get; }
        /// <summary>When the sender was done sending IPIs (the loop's end if it sent none).</summary>
        public long IpisSent { get; set; }
        /// <summary>When csd_lock_wait() saw the last unlock.</summary>
        public long WaitDone { get; set; }
        /// <summary>When each target CPU's csd was unlocked, by CPU number (only where its answer says <see cref="TargetAnswer.Unlocked"/>).</summary>
        public long[] UnlockTime { get; }
        /// <summary>Each target CPU's <see cref="TargetAnswer"/>, by CPU number.</summary>
        public byte[] Answer { get; }
        /// <summary>When csd_lock_wait() starts: after the IPIs and the local func.</summary>
        public long WaitStart { get; set; }
        /// <summary>The sampled operation this call belongs to, if any.</summary>
        public OpTraceBuilder? Trace { get; }
        /// <summary>Where the CPUs that ran this call's csd are noted, when the run checks safety.</summary>
        public Topology.CpuMask.Builder? Interrupted { get; }
        public int Answers { get; set; }
        public int DeclinedCount { get; set; }
        public int Acks { get; set; }
        public int Queued => Count - DeclinedCount;

        public bool Declined(int cpu) => (Answer[cpu] & (byte)TargetAnswer.Declined) != 0;

        /// <summary>Where the sender's time went in this call, once csd_lock_wait() is done.</summary>
        public Results.InitiatorTime Time => new(LoopEnd - Start, IpisSent - LoopEnd, WaitStart - IpisSent, WaitDone - WaitStart);

        /// <summary>
        /// The call as far as it has got: its targets, each one's answer, and the unlock times of
        /// those that unlocked (the pooled arrays hold them by CPU number, and nothing else in them
        /// is ever read). A storm's broadcasts in flight are most of a checkpoint, so the targets
        /// are written as a mask when that is smaller than their list, and a time only where there
        /// is one. The sampled trace and the interrupted CPUs are the operation's own, which the
        /// reader links again.
        /// </summary>
        public void Write(StateWriter w)
        {
            w.Long(Serial);
            Csd.Write(w);
            w.Bool(RunLocal);
            w.Long(Start);
            w.Long(LoopEnd);
            w.Long(IpisSent);
            w.Long(WaitStart);
            w.Long(WaitDone);
            w.Int(Answers);
            w.Int(DeclinedCount);
            w.Int(Acks);
            w.Bool(Trace is not null);
            w.Bool(Interrupted is not null);
            var targets = Targets.AsSpan(0, Count);
            var asMask = TargetsAsMask(Count, NrCpus);
            w.Bool(asMask);
            if (asMask) w.Mask(TargetMask());
            else w.Ints(targets);
            foreach (var target in targets) w.Byte(Answer[target]);
            foreach (var target in targets)
                if ((Answer[target] & (byte)TargetAnswer.Unlocked) != 0) w.Long(UnlockTime[target]);
        }

        private Topology.CpuMask.Builder TargetMask()
        {
            var mask = new Topology.CpuMask.Builder(NrCpus);
            for (var j = 0; j < Count; j++) mask.Set(Targets[j]);
            return mask;
        }

        /// <summary>A mask's words weigh less than the targets' ints once one CPU in 32 is a target.</summary>
        private static bool TargetsAsMask(int count, int nrCpus) => (long)count * sizeof(int) > (long)Topology.CpuMask.WordCount(nrCpus) * sizeof(ulong);

        public static Call Read(StateReader r, int nrCpus, KernelOperation op)
        {
            var (serial, csd) = (r.Long(), Csd.Read(r));
            var (runLocal, start, loopEnd, ipisSent, waitStart, waitDone) = (r.Bool(), r.Long(), r.Long(), r.Long(), r.Long(), r.Long());
            var (answered, declined, acks) = (r.Int(), r.Int(), r.Int());
            if (r.Bool() != op.Trace is not null || r.Bool() != op.Interrupted is not null)
                throw r.Invalid($"call {serial} traced or noting interrupts where operation {op.Serial} is not, or the other way round");
            var asMask = r.Bool();
            var targetList = asMask ? [.. (r.Mask() ?? throw r.Invalid($"call {serial} without its targets")).Cpus()] : r.Ints();
            var count = targetList.Length;
            if (count >= nrCpus) throw r.Invalid($"a call to {count} CPUs on a machine of {nrCpus}");
            var targets = RentTargets(count);
            for (var j = 0; j < count; j++)
            {
                var target = targets[j] = targetList[j];
                if ((uint)target >= (uint)nrCpus || j > 0 && target <= targets[j - 1])
                    throw r.Invalid($"a call's target {target} out of order or beyond CPU {nrCpus - 1}");
            }
            var call = new Call(serial, targets, count, nrCpus, csd, runLocal, start, loopEnd, op.Trace, op.Interrupted)
            {
                IpisSent = ipisSent,
                WaitStart = waitStart,
                WaitDone = waitDone,
                Answers = answered,
                DeclinedCount = declined,
                Acks = acks,
            };
            var (answersIn, declinedIn, unlocked) = (0, 0, 0);
            for (var j = 0; j < count; j++)
            {
                var answer = r.Byte();
                if (answer >= 2 * (byte)TargetAnswer.Unlocked || answer != 0 && (answer & (byte)TargetAnswer.Answered) == 0)
                    throw r.Invalid($"{answer} is not a target's answer");
                call.Answer[targets[j]] = answer;
                answersIn += answer == 0 ? 0 : 1;
                declinedIn += answer & (byte)TargetAnswer.Declined;
                unlocked += (answer & (byte)TargetAnswer.Unlocked) == 0 ? 0 : 1;
            }
            if ((answersIn, declinedIn, unlocked) != (answered, declined, acks))
                throw r.Invalid($"call {serial} counts {answered} answers, {declined} declined and {acks} unlocked; its targets say {answersIn}, {declinedIn} and {unlocked}");
            for (var j = 0; j < count; j++)
                if (call.Unlocked(targets[j])) call.UnlockTime[targets[j]] = r.Long();
            return call;
        }

        private bool Unlocked(int cpu) => (Answer[cpu] & (byte)TargetAnswer.Unlocked) != 0;

        public void Release()
        {
            Pools.Ints.Return(Targets);
            Pools.Longs.Return(UnlockTime);
            Pools.Bytes.Return(Answer);
        }
    }

    /// <summary>
    /// A csd this CPU has queued, with what its func needs: 40 bytes. In a storm every CPU's
    /// queue holds a csd from each of hundreds of senders at once. Its sender's task was traced
    /// when it was queued, so it is not kept.
    /// </summary>
    private readonly record struct QueuedCsd(long Call, FlushTlbInfo Info, int Sender, CsdFunc Func, bool Coalesced)
    {
        public Csd Csd => new(Func, CsdCond.None, Info, FromKhugepaged: false);
    }

    [ThreadStatic] private static long[]? t_clusterDepart;
    [ThreadStatic] private static int[]? t_clusterStamp;
    [ThreadStatic] private static int t_stamp;

    private readonly List<QueuedCsd> _callSingleQueue = new();
    private long _callSerial;

    /// <summary>
    /// This CPU's side of kernel/smp.c as it stands between events: its call_single_queue, the
    /// interrupt pending at its APIC, and the call it has in flight, which belongs to the
    /// operation in progress (so <see cref="KernelOperations"/> is read first).
    /// </summary>
    public void WriteState(StateWriter w)
    {
        w.Long(_callSerial);
        w.Bool(_interruptPending);
        w.Int(_callSingleQueue.Count);
        foreach (var queued in _callSingleQueue)
        {
            w.Long(queued.Call);
            queued.Info.Write(w);
            w.Int(queued.Sender);
            w.Enum(queued.Func);
            w.Bool(queued.Coalesced);
        }
        w.Bool(InFlight is not null);
        InFlight?.Write(w);
    }

    public void ReadState(StateReader r)
    {
        (_callSerial, _interruptPending) = (r.Long(), r.Bool());
        _callSingleQueue.Clear();
        for (var count = r.Count("a call_single_queue"); count > 0; count--)
        {
            var (call, info, sender, func, coalesced) = (r.Long(), FlushTlbInfo.Read(r), r.Int(), r.Enum<CsdFunc>(), r.Bool());
            if ((uint)sender >= (uint)cpu.Machine.CpuCount) throw r.Invalid($"a csd from CPU {sender} on a machine of {cpu.Machine.CpuCount}");
            _callSingleQueue.Add(new QueuedCsd(call, info, sender, func, coalesced));
        }
        ReleaseInFlight();
        if (!r.Bool()) return;
        if (!cpu.Ops.InProgress) throw r.Invalid($"CPU {cpu.Id} has a call in flight and no operation in progress");
        InFlight = Call.Read(r, cpu.Machine.CpuCount, cpu.Ops.Current);
    }

    /// <summary>The call this CPU has in flight (its loop, its IPIs, its csd_lock_wait()), if any.</summary>
    public Call? InFlight { get; private set; }

    /// <summary>A pooled array for a call's targets; the call owns it once made.</summary>
    public static int[] RentTargets(int capacity) => Pools.Ints.Rent(Math.Max(1, capacity));

    /// <summary>
    /// smp_call_function_many_cond(), wait=1: the loop over the targets, in CPU order. Each costs
    /// the sender cache-line transfers priced by distance (<see cref="CostModel.CacheLineTransfer"/>):
    /// with a cond_func, its read of the target's cpu_tlbstate; csd_lock() taking back the csd
    /// line the target unlocked last; the stores into it; and llist_add()'s cmpxchg on the
    /// target's call_single_queue head, which lands when the sender takes the line and returns
    /// one transfer later. The target answers whether cond_func passed and whether its queue was
    /// empty, and the sender has every answer when its loop is over (<see cref="CsdQueueAnswered"/>);
    /// <see cref="SendCallFunctionIpis"/> goes on from there.
    /// <para>
    /// The kernel's sender skips csd_lock() and llist_add() for a CPU its cond_func rejects; the
    /// model charges them for every candidate, because the answer is the target's to give and the
    /// loop's timing cannot wait for it (docs/model.md). cond_func is asked when llist_add() lands,
    /// two transfers after the kernel reads the CPU's state.
    /// </para>
    /// <paramref name="targets"/> is a pooled, sorted array of which <paramref name="count"/> are
    /// valid; the call owns it. The sender starts at <paramref name="now"/>, which a local flush
    /// done first may put after the current time. The call is <see cref="InFlight"/> until the
    /// caller's step ends (<see cref="ReleaseInFlight"/>).
    /// </summary>
    public void SmpCallFunctionManyCond(int[] targets, int count, in Csd csd, bool runLocal, long now, OpTraceBuilder? trace,
        Topology.CpuMask.Builder? interrupted, ISimContext ctx)
    {
        var costs = cpu.Costs;
        var machine = cpu.Machine;
        var serial = ++_callSerial;
        var conditional = csd.Cond != CsdCond.None;
        var loopEnd = now;
        for (var j = 0; j < count; j++) loopEnd += TargetCost(costs.CacheLineTransfer(machine, cpu.Id, targets[j]), conditional);

        var flags = CsdQueued.Flags(csd);
        trace?.BeginCall(csd.Func, now, count);
        var t = now;
        for (var j = 0; j < count; j++)
        {
            var target = targets[j];
            var transfer = costs.CacheLineTransfer(machine, cpu.Id, target);
            var land = t + TargetCost(transfer, conditional) - transfer;
            t = land + transfer;
            CsdQueued.Send(ctx, target, land, serial, csd, flags, loopEnd);
            trace?.Target(j, target, land);
        }
        var call = new Call(serial, targets, count, machine.CpuCount, csd, runLocal, now, loopEnd, trace, interrupted);
        InFlight = call;
        if (count == 0) SendCallFunctionIpis(call, ctx);
    }

    /// <summary>
    /// What one target costs the sender's loop: [cond_func's read,] csd_lock(), the stores,
    /// llist_add(); <paramref name="transfer"/> is one cache-line transfer to the target.
    /// </summary>
    private long TargetCost(long transfer, bool conditional) =>
        (conditional ? transfer : 0) + transfer + cpu.Costs.CsdSetupPerTargetNs + transfer;

    /// <summary>A target's answer to the loop. With the last one in, the sender sends the IPIs.</summary>
    public void CsdQueueAnswer(in SimEvent e, ISimContext ctx)
    {
        var answer = new CsdQueueAnswered(in e);
        var call = InFlight;
        if (call is null || call.Serial != answer.Call) throw new InvalidOperationException($"CPU {cpu.Id}: answer for call {answer.Call} with none in flight");
        var flags = answer.Declined ? TargetAnswer.Declined
            : (answer.QueueWasEmpty ? TargetAnswer.InCpumaskIpi : TargetAnswer.None) | (answer.Polling ? TargetAnswer.Polling : TargetAnswer.None)
              | (answer.Idle ? TargetAnswer.Idle : TargetAnswer.None);
        call.Answer[answer.Target] = (byte)(flags | TargetAnswer.Answered);
        if (answer.Declined)
        {
            call.DeclinedCount++;
            call.Trace?.Answer(answer.Target, 0, 0, ctx.Now, declined: true, coalesced: false);
        }
        if (++call.Answers == call.Count) SendCallFunctionIpis(call, ctx);
    }

    /// <summary>
    /// The end of smp_call_function_many_cond()'s loop: IPIs to cfd->cpumask_ipi only, the CPUs
    /// whose queue was empty (the others have an interrupt coming that will run this csd too).
    /// One such CPU takes send_call_function_single_ipi(), which sends nothing to a polling idle
    /// CPU but sets its need_resched (<see cref="IdleWoken"/>). More take
    /// send_call_function_ipi_mask(): the all-but-self shorthand (one ICR write) when the mask is
    /// every other online CPU, else one write per x2APIC cluster in the mask, or one per CPU. Then,
    /// with SCF_RUN_LOCAL, the func here with IRQs off; then csd_lock_wait() (<see cref="CsdLockWaitDone"/>).
    /// </summary>
    private void SendCallFunctionIpis(Call call, ISimContext ctx)
    {
        var costs = cpu.Costs;
        var machine = cpu.Machine;
        var t = call.LoopEnd;
        var nrCpus = 0;
        var lastCpu = -1;
        for (var j = 0; j < call.Count; j++)
        {
            var target = call.Targets[j];
            if (!InCpumaskIpi(call, target)) continue;
            nrCpus++;
            lastCpu = target;
        }
        var task = cpu.Tracer.SenderTask(call.Csd);
        if (nrCpus == 1 && (call.Answer[lastCpu] & (byte)TargetAnswer.Polling) != 0)
        {
            // call_function_single_prep_ipi(): set_nr_if_polling() writes the idle task's flags, which the CPU watches.
            IdleWoken.Send(ctx, lastCpu, t + costs.CacheLineTransfer(machine, cpu.Id, lastCpu));
        }
        else if (nrCpus > 0)
        {
            cpu.Tracer.Event(t, cpu.Id, FtraceEvent.IpiSend, task, call: call.Serial, func: call.Csd.Func);
            var features = cpu.Setup.Features;
            // kvm_setup_pv_ipi() replaces only send_IPI_mask and send_IPI_mask_allbutself: the
            // all-but-self shorthand and a single target's send_IPI stay ICR writes (one exit each).
            var pvMask = features.KvmGuest && features.KvmPvSendIpi && nrCpus > 1 && !AllButSelfShorthand(nrCpus);
            t = pvMask ? KvmSendIpiMask(call, t, ctx) : SendIpiMask(call, nrCpus, t, ctx);
            if (nrCpus > 1 && features.KvmPvSchedYield) t = KvmSchedYield(call, t, ctx);
        }
        call.Trace?.IpisSent(call.LoopEnd, t, call.RunLocal);
        call.IpisSent = t;

        if (call.RunLocal)
        {
            // SCF_RUN_LOCAL: the func here, IRQs off, while the remote IPIs are in flight.
            t += cpu.RunCsdFunc(call.Csd, call.Csd.Info.NewTlbGen, local: true, t, ctx);
            cpu.Irqs.LocalFlushUntil = t;
        }
        call.WaitStart = t;
        // A csd that joined a busy queue may have been run, and acked, before the loop was over.
        if (call.Acks == call.Queued) Answered(call, ctx);
    }

    /// <summary>Whether the target is in cfd->cpumask_ipi.</summary>
    private static bool InCpumaskIpi(Call call, int target) => (call.Answer[target] & (byte)TargetAnswer.InCpumaskIpi) != 0;

    /// <summary>
    /// arch/x86/kernel/apic: native_send_call_func_ipi() (the all-but-self shorthand when the mask
    /// is every other online CPU), __x2apic_send_IPI_mask() (one ICR write per cluster met), or
    /// one write per CPU; x2apic_send_IPI() for one. In a KVM guest without PV send-IPI each write
    /// exits to the host. Returns when the sender is done writing.
    /// </summary>
    private long SendIpiMask(Call call, int nrCpus, long t, ISimContext ctx)
    {
        var costs = cpu.Costs;
        var machine = cpu.Machine;
        var icrWrite = cpu.Setup.Features.KvmGuest ? costs.VmExitNs : costs.IcrWriteNs;
        var shorthand = AllButSelfShorthand(nrCpus);
        // UV's uv_send_IPI_mask() writes each CPU's hub in turn, as physical mode does.
        var cluster = nrCpus > 1 && !shorthand && costs.ApicMode == ApicMode.X2ApicCluster;
        if (shorthand || nrCpus == 1) t += icrWrite;
        if (cluster) NewClusterWalk();
        for (var j = 0; j < call.Count; j++)
        {
            var target = call.Targets[j];
            if (!InCpumaskIpi(call, target)) continue;
            long depart;
            if (shorthand || nrCpus == 1)
            {
                depart = t;
            }
            else if (cluster)
            {
                // __x2apic_send_IPI_mask(): walk the mask in CPU order, one write per cluster met.
                var c = machine.X2ApicClusterIndexOf(target);
                if (t_clusterStamp![c] != t_stamp)
                {
                    t += icrWrite;
                    t_clusterStamp[c] = t_stamp;
                    t_clusterDepart![c] = t;
                }
                depart = t_clusterDepart![c];
            }
            else
            {
                t += icrWrite;
                depart = t;
            }
            RaiseIpi(call, j, depart, ctx);
        }
        return t;
    }

    /// <summary>
    /// native_send_call_func_ipi(): the mask is every other online CPU and shorthands are in use
    /// (apic_use_ipi_shorthand). UV's send_IPI_allbutself loops over the CPUs all the same.
    /// </summary>
    private bool AllButSelfShorthand(int nrCpus) =>
        nrCpus > 1 && cpu.Costs.IpiShorthand && cpu.Costs.ApicMode != ApicMode.Uv && nrCpus == cpu.Machine.CpuCount - 1;

    /// <summary>The IPI leaves at <paramref name="depart"/> for the call's <paramref name="index"/>-th target.</summary>
    private void RaiseIpi(Call call, int index, long depart, ISimContext ctx)
    {
        var target = call.Targets[index];
        var arrival = depart + cpu.Costs.IpiDelivery(cpu.Machine, cpu.Id, target);
        ctx.Send(target, arrival, EventKind.InterruptRaise);
        call.Trace?.IpiArrival(index, arrival);
    }

    /// <summary>KVM_IPI_CLUSTER_SIZE: the APIC IDs one KVM_HC_SEND_IPI bitmap covers (2 × BITS_PER_LONG).</summary>
    private const int KvmIpiClusterSize = 128;

    /// <summary>
    /// arch/x86/kernel/kvm.c kvm_send_ipi_mask() -> __send_ipi_mask(): a bitmap of APIC IDs from the
    /// lowest in it, one KVM_HC_SEND_IPI hypercall each time an ID falls outside the 128 it covers
    /// (and one for the last). The host delivers each hypercall's IPIs before it returns.
    /// </summary>
    private long KvmSendIpiMask(Call call, long t, ISimContext ctx)
    {
        var costs = cpu.Costs;
        var machine = cpu.Machine;
        var first = 0;
        var count = 0;
        var min = 0;
        for (var j = 0; j <= call.Count; j++)
        {
            var end = j == call.Count;
            var target = end ? -1 : call.Targets[j];
            if (!end && !InCpumaskIpi(call, target)) continue;
            var apicId = end ? 0 : machine.ApicIdOf(target);
            if (count > 0 && (end || apicId < min || apicId >= min + KvmIpiClusterSize))
            {
                t += costs.KvmSendIpiHypercallNs + count * costs.KvmSendIpiPerTargetNs;
                for (var k = first; k < j; k++)
                    if (InCpumaskIpi(call, call.Targets[k])) RaiseIpi(call, k, t, ctx);
                count = 0;
            }
            if (end) break;
            if (count++ == 0)
            {
                first = j;
                min = apicId;
            }
        }
        return t;
    }

    /// <summary>
    /// kvm_smp_send_call_func_ipi(): after the IPIs, the first target that is not idle and whose
    /// steal-time record says preempted gets the sender's pCPU (KVM_HC_SCHED_YIELD), so it runs
    /// and takes its interrupt now rather than when the host would have run it.
    /// </summary>
    private long KvmSchedYield(Call call, long t, ISimContext ctx)
    {
        var preemption = cpu.Setup.Preemption;
        for (var j = 0; j < call.Count; j++)
        {
            var target = call.Targets[j];
            if (!InCpumaskIpi(call, target) || (call.Answer[target] & (byte)TargetAnswer.Idle) != 0 || !preemption.IsPreempted(target, t)) continue;
            t += cpu.Costs.KvmSchedYieldNs;
            ctx.Send(target, t, EventKind.DirectedYield);
            break;
        }
        return t;
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
    /// __smp_call_single_queue(): the sender's llist_add() onto this CPU's call_single_queue lands.
    /// A conditional call first asks its cond_func about this CPU; a CPU it rejects gets no csd.
    /// The answer (rejected, or whether the queue was empty, and whether this CPU polls idle) is
    /// the sender's at the end of its loop. A csd that joins a non-empty queue will be run by the
    /// interrupt already coming.
    /// </summary>
    public void SmpCallSingleQueue(in SimEvent e, ISimContext ctx)
    {
        var queued = new CsdQueued(in e);
        var csd = queued.Csd;
        if (!cpu.RunCondFunc(csd, ctx.Now))
        {
            CsdQueueAnswered.SendDeclined(ctx, queued.Sender, queued.AnswerAt, queued.Call);
            return;
        }
        var wasEmpty = _callSingleQueue.Count == 0;
        // trace_csd_queue_cpu() runs on the sender once cond_func has passed; llist_add()'s
        // answer (was the queue empty) decides whether this CPU is in the IPI's mask.
        cpu.Tracer.Event(ctx.Now, queued.Sender, FtraceEvent.CsdQueueCpu, cpu.Tracer.SenderTask(csd), peer: cpu.Id, call: queued.Call, func: csd.Func, ipi: wasEmpty);
        _callSingleQueue.Add(new QueuedCsd(queued.Call, csd.Info, queued.Sender, csd.Func, Coalesced: !wasEmpty));
        CsdQueueAnswered.SendQueued(ctx, queued.Sender, queued.AnswerAt, queued.Call, wasEmpty, wasEmpty && cpu.Idle.Polling(ctx.Now), cpu.Idle.IsIdle(ctx.Now));
    }

    /// <summary>
    /// The IPI arrives (or a deferred dispatch comes due). An idle CPU first leaves its idle
    /// state (<see cref="CpuIdle.Wake"/>); the interrupt is then taken once IRQs are enabled, no
    /// handler is running and the vCPU is not preempted; a walk that disabled IRQs meanwhile
    /// defers it again.
    /// </summary>
    public void InterruptRaised(ISimContext ctx)
    {
        cpu.Stats.IpisReceived++;
        // The APIC holds one pending interrupt per vector: a second IPI before it is taken merges.
        if (_interruptPending) return;
        _interruptPending = true;
        DispatchPending(ctx);
    }

    /// <summary>A deferred dispatch comes due: the pending interrupt, if it still is, is taken once it can be.</summary>
    public void InterruptDispatched(ISimContext ctx)
    {
        if (_interruptPending) DispatchPending(ctx);
    }

    /// <summary>KVM_HC_SCHED_YIELD reached this vCPU: the host runs it now, and a pending interrupt may be taken.</summary>
    public void DirectedYield(ISimContext ctx)
    {
        cpu.Irqs.DirectedYield(ctx.Now);
        if (_interruptPending) DispatchPending(ctx);
    }

    private bool _interruptPending;

    private void DispatchPending(ISimContext ctx)
    {
        var exit = cpu.Idle.Wake(ctx.Now);
        cpu.Stats.IdleExitNs += exit;
        var start = cpu.Irqs.EnabledFrom(ctx.Now + exit);
        if (start > ctx.Now)
        {
            ctx.Send(cpu.Id, start, EventKind.InterruptDispatch);
            return;
        }
        _interruptPending = false;
        FlushSmpCallFunctionQueue(ctx, fromInterrupt: true);
    }

    /// <summary>
    /// A polling idle CPU sees need_resched, set by send_call_function_single_ipi(): it leaves its
    /// idle state, and do_idle() runs flush_smp_call_function_queue() with no interrupt. If the
    /// CPU stopped polling after it answered the sender, set_nr_if_polling() fails in the kernel
    /// and the sender IPIs it; the model takes the interrupt here.
    /// </summary>
    public void IdleWake(in SimEvent e, ISimContext ctx)
    {
        if (!new IdleWoken(in e).Awake)
        {
            if (!cpu.Idle.Polling(ctx.Now))
            {
                InterruptRaised(ctx);
                return;
            }
            var exit = cpu.Idle.Wake(ctx.Now);
            cpu.Stats.IdleExitNs += exit;
            if (exit > 0)
            {
                IdleWoken.SendAwake(ctx, cpu.Id, ctx.Now + exit);
                return;
            }
        }
        FlushSmpCallFunctionQueue(ctx, fromInterrupt: false);
    }

    /// <summary>
    /// __flush_smp_call_function_queue(): take the whole queue (llist_del_all, then FIFO order),
    /// run each func and csd_unlock() it. From sysvec_call_function, CAL counts the interrupt once
    /// however many csds it drains, even none (an earlier handler drained them), and the entry
    /// and exit cost time; an interrupt that finds the CPU in user mode also pays the way in and
    /// out of it. From the idle loop, IRQs are off and there is no interrupt to count. A CPU
    /// that had stopped its tick in idle pays tick_irq_enter() and the tick's reprogramming.
    /// Either way the CPU goes back to idle afterwards if nothing else runs.
    /// </summary>
    private void FlushSmpCallFunctionQueue(ISimContext ctx, bool fromInterrupt)
    {
        // llist_del_all(): every csd queued so far is this flush's; the queue is empty again
        // once they have run (nothing can land meanwhile: a csd from another CPU is an event of
        // its own, later), and new csds will raise a new IPI.
        var entries = _callSingleQueue;
        NoteTlbGensSeen(entries);

        var stats = cpu.Stats;
        var costs = cpu.Costs;
        var t = ctx.Now;
        if (fromInterrupt)
        {
            stats.Cal++;
            t += costs.InterruptEntryNs;
            if (cpu.InUserMode) t += costs.InterruptFromUserNs + (cpu.NohzFull ? costs.ContextTrackingNs : 0);
        }
        if (cpu.Idle.TakeStoppedTick()) t += costs.IdleTickNs;
        var funcsStart = t;
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
            CsdUnlocked.SendUnlocked(ctx, queued.Sender, t + costs.CacheLineTransfer(cpu.Machine, cpu.Id, queued.Sender), queued.Call,
                unlockedAt: t, funcStartedAt: funcStart, queued.Coalesced);
        }
        entries.Clear();
        // This drain's view of tlb_gen ends with it: nothing of it outlives the event (or lies in a checkpoint).
        _tlbGenSeen.Clear();
        var funcs = t - funcsStart;
        if (fromInterrupt) t += costs.InterruptExitNs;
        cpu.Irqs.HandlerBusyUntil = t;
        cpu.Tracer.Slice(ctx.Now, t, fromInterrupt ? TimelineSlice.Interrupt : TimelineSlice.IdleLoopCsds);
        if (fromInterrupt)
        {
            cpu.NoteInterruption(ctx.Now, t - ctx.Now);
            // Where the stolen time went: the way in and out, and the funcs.
            stats.HandlerNs += funcs;
            stats.EntryExitNs += t - ctx.Now - funcs;
        }
        cpu.ReconsiderIdle(t);
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

    /// <summary>A target unlocked its csd. When all queued csds are unlocked, csd_lock_wait() is done.</summary>
    public void CsdAnswered(in SimEvent e, ISimContext ctx)
    {
        var ack = new CsdUnlocked(in e);
        var call = InFlight;
        if (call is null || call.Serial != ack.Call) throw new InvalidOperationException($"CPU {cpu.Id}: ack for call {ack.Call} with none in flight");
        call.Trace?.Answer(ack.Target, ack.FuncStartedAt, ack.UnlockedAt, ctx.Now, declined: false, ack.Coalesced);
        call.UnlockTime[ack.Target] = ack.UnlockedAt;
        call.Answer[ack.Target] |= (byte)TargetAnswer.Unlocked;
        call.Interrupted?.Set(ack.Target);
        if (++call.Acks == call.Queued && call.Answers == call.Count) Answered(call, ctx);
    }

    /// <summary>
    /// kernel/smp.c: csd_lock_wait() returns only once every csd it queued is unlocked, so of
    /// the unlocks this CPU holds (<paramref name="held"/>, the latest at <paramref name="latest"/>)
    /// only the last one handled can let the caller go on (<see cref="CsdAnswered"/>: the others
    /// only note the time), and only when it is the call's last: the loop is over (every target
    /// answered, so it is known how many csds were queued) and no other unlock is still to come.
    /// Its step ends no sooner than that unlock, and the step writes another entity one
    /// interaction later at the earliest. Otherwise a later event completes the wait, and its own
    /// bound counts.
    /// </summary>
    public EntityTimes CsdLockWaitWrites(int held, long latest)
    {
        var call = InFlight ?? throw new InvalidOperationException($"CPU {cpu.Id}: {held} csd unlocks held with no call in flight");
        return call.Answers == call.Count && call.Acks + held == call.Queued
            ? EntityTimes.Both(latest + cpu.Setup.FastestInteractionNs)
            : EntityTimes.Never;
    }

    /// <summary>Every queued csd is unlocked (or none was queued): the caller's step ends when csd_lock_wait() has seen them all.</summary>
    private void Answered(Call call, ISimContext ctx)
    {
        var done = CsdLockWaitDone(call, ctx.Now);
        call.WaitDone = done;
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
    /// csd_lock_wait() over the targets in CPU order. Each is <c>smp_cond_load_acquire()</c>, plain
    /// loads in a loop: a csd still locked when the loop reaches it is waited for, and then its
    /// line comes over (one cache-line transfer from the target); the loads of csds already
    /// unlocked by then run ahead of the branches that wait on them, so their misses overlap, up
    /// to <see cref="Costs.CostModel.CsdLockWaitMissesInFlight"/> at a time (each group costs its
    /// slowest transfer). Only llist_add()'s cmpxchg in the send loop serialises. A declined
    /// target has no csd to wait on.
    /// </summary>
    private long CsdLockWaitDone(Call call, long now)
    {
        var costs = cpu.Costs;
        // reached: when the loop got to the current group's first csd; arrived: when every line
        // asked for so far is here (a csd unlocked after the load was issued arrives a transfer after its unlock).
        var (reached, arrived, inFlight) = (call.WaitStart, call.WaitStart, 0);
        for (var j = 0; j < call.Count; j++)
        {
            var target = call.Targets[j];
            if (call.Declined(target)) continue;
            var transfer = costs.CacheLineTransfer(cpu.Machine, target, cpu.Id);
            var unlock = call.UnlockTime[target];
            if (inFlight == costs.CsdLockWaitMissesInFlight || unlock > arrived)
            {
                // No room for another miss, or a csd still locked once the others are in: the loop
                // spins here, and runs ahead again only once this one is unlocked.
                (reached, inFlight) = (Math.Max(arrived, unlock), 0);
                arrived = reached;
            }
            arrived = Math.Max(arrived, Math.Max(reached, unlock) + transfer);
            inFlight++;
        }
        return Math.Max(arrived, now);
    }
}
