using System.Buffers;
using Shootdown.Model.Costs;
using Shootdown.Model.Simulation;
using Shootdown.Model.Tracing;

namespace Shootdown.Model.Kernel;

public sealed partial class Cpu
{
    /// <summary>
    /// One smp_call_function_many_cond() in flight from this CPU, waiting in csd_lock_wait().
    /// Each target's answer is kept by CPU number, as the kernel keeps a csd per CPU, so an ack
    /// needs no lookup. The arrays are pooled: a broadcast on a large machine would otherwise
    /// allocate tens of kilobytes per call.
    /// </summary>
    private sealed class SmpCall
    {
        public SmpCall(long serial, int[] targets, int count, int nrCpus, long waitStart)
        {
            Serial = serial;
            Targets = targets;
            Count = count;
            WaitStart = waitStart;
            UnlockTime = ArrayPool<long>.Shared.Rent(nrCpus);
            Declined = ArrayPool<bool>.Shared.Rent(nrCpus);
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
        public int Acks { get; set; }
        public int DeclinedCount { get; set; }
        public long LastDeclinedAck { get; set; }
        public int Queued => Count - DeclinedCount;

        public void Release()
        {
            ArrayPool<int>.Shared.Return(Targets);
            ArrayPool<long>.Shared.Return(UnlockTime);
            ArrayPool<bool>.Shared.Return(Declined);
        }
    }

    [ThreadStatic] private static long[]? t_clusterDepart;
    [ThreadStatic] private static int[]? t_clusterStamp;
    [ThreadStatic] private static int t_stamp;

    private long _callSerial;

    /// <summary>
    /// kernel/smp.c smp_call_function_many_cond(), with wait=1. Per target, in CPU order: the
    /// csd setup and llist_add (CsdSetupPerTargetNs each). Then the IPIs, by APIC mode:
    /// the all-but-self shorthand (one ICR write) when the targets plus this CPU are every online
    /// CPU, one write per x2APIC cluster, or one per CPU. Then, with SCF_RUN_LOCAL, the local
    /// func with IRQs off. Then csd_lock_wait() on each target in turn.
    /// <para>
    /// The model charges an ICR write for every target. The kernel IPIs only those whose queue
    /// was empty (cfd->cpumask_ipi) and falls back from the shorthand to a mask send when any was
    /// not; it learns that from llist_add's return, which the model's sender does not see.
    /// </para>
    /// <paramref name="targets"/> is a pooled array, sorted, of which <paramref name="count"/> are valid; the call owns it.
    /// The sender starts at <paramref name="now"/>, which a local flush done first may put after the current time.
    /// </summary>
    private SmpCall SmpCallFunctionManyCond(int[] targets, int count, CsdMessage csd, bool runLocal, long now, ISimContext ctx)
    {
        var serial = ++_callSerial;
        var icrStart = now + count * _costs.CsdSetupPerTargetNs;
        var t = icrStart;
        var shorthand = _costs.IpiShorthand && count == _machine.CpuCount - 1;
        var cluster = !shorthand && _costs.ApicMode == ApicMode.X2ApicCluster;
        if (shorthand) t += _costs.IcrWriteNs;
        if (cluster) NewClusterWalk();

        var flags = csd.EncodeFlags();
        // send_call_function_ipi_mask() after the last llist_add; the mask is known to the
        // targets (whose queue was empty), so the trace renderer assembles it from their lines.
        TraceEvent(icrStart, Id, FtraceEvent.IpiSend, TaskOf(csd.Mm), call: serial, func: csd.Func);
        var trace = _op!.Trace;
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
                var c = _machine.X2ApicClusterIndexOf(targets[j]);
                if (t_clusterStamp![c] != t_stamp)
                {
                    t += _costs.IcrWriteNs;
                    t_clusterStamp[c] = t_stamp;
                    t_clusterDepart![c] = t;
                }
                depart = t_clusterDepart![c];
            }
            else
            {
                t += _costs.IcrWriteNs;
                depart = t;
            }
            var land = now + (j + 1) * _costs.CsdSetupPerTargetNs;
            var arrival = depart + _costs.IpiDelivery(_machine, Id, targets[j]);
            ctx.Send(targets[j], land, EventKind.CsdQueue, serial, csd.Mm, x: arrival, y: csd.NewTlbGen, flags: flags);
            trace?.Target(j, targets[j], land, arrival);
        }
        trace?.IpisSent(t, runLocal);

        if (runLocal)
        {
            // SCF_RUN_LOCAL: flush_tlb_func() here, IRQs off, while the remote IPIs are in flight.
            var local = FlushTlbFunc(csd.Mm, csd.Pages, csd.Full, csd.NewTlbGen, csd.NewTlbGen, local: true, t, ctx);
            t += local;
            _localIrqOffUntil = t;
        }
        return new SmpCall(serial, targets, count, _machine.CpuCount, t);
    }

    /// <summary>Starts a fresh walk over the x2APIC clusters, with this thread's scratch arrays.</summary>
    private void NewClusterWalk()
    {
        if (t_clusterStamp is null || t_clusterStamp.Length < _machine.ClusterCount)
        {
            t_clusterStamp = new int[_machine.ClusterCount];
            t_clusterDepart = new long[_machine.ClusterCount];
            t_stamp = 0;
        }
        if (++t_stamp == int.MaxValue)
        {
            Array.Clear(t_clusterStamp);
            t_stamp = 1;
        }
    }

    /// <summary>A target unlocked its csd (or declined it). When all have answered, csd_lock_wait() is done.</summary>
    private void OnCsdAck(in SimEvent e, ISimContext ctx)
    {
        var call = _op?.Call;
        if (call is null || call.Serial != e.Op) throw new InvalidOperationException($"CPU {Id}: ack for call {e.Op} with none in flight");
        var declined = (e.Flags & CsdMessage.AckDeclined) != 0;
        _op!.Trace?.Answer(e.Source, e.Y, e.X, ctx.Now, declined, (e.Flags & CsdMessage.AckCoalesced) != 0);
        if (declined)
        {
            call.Declined[e.Source] = true;
            call.DeclinedCount++;
            call.LastDeclinedAck = Math.Max(call.LastDeclinedAck, ctx.Now);
        }
        else
        {
            call.UnlockTime[e.Source] = e.X;
            _op.Interrupted?.Set(e.Source);
        }
        if (++call.Acks == call.Count) OnCallAnswered(call, ctx);
    }

    /// <summary>Every target has answered (or there were none): the step ends when csd_lock_wait() has seen them all.</summary>
    private void OnCallAnswered(SmpCall call, ISimContext ctx)
    {
        var done = CsdLockWaitDone(call, ctx.Now);
        _op!.Trace?.CallDone(done);
        ctx.Send(Id, done, EventKind.OpStepDone, call.Serial);
    }

    /// <summary>
    /// csd_lock_wait() over the targets in CPU order: each poll waits for that csd's unlock and
    /// then pays one cache-line transfer from the target. A declined target was only read, during
    /// the setup loop, and its answer must be back.
    /// </summary>
    private long CsdLockWaitDone(SmpCall call, long now)
    {
        var t = call.WaitStart;
        for (var j = 0; j < call.Count; j++)
        {
            var cpu = call.Targets[j];
            if (call.Declined[cpu]) continue;
            t = Math.Max(t, call.UnlockTime[cpu]) + _costs.CacheLineTransfer(_machine, cpu, Id);
        }
        return Math.Max(Math.Max(t, call.LastDeclinedAck), now);
    }

    /// <summary>A pooled, sorted copy of the CPUs a call targets.</summary>
    private static int[] RentTargets(int capacity) => ArrayPool<int>.Shared.Rent(Math.Max(1, capacity));
}
