using Shootdown.Model.Costs;
using Shootdown.Model.Simulation;

namespace Shootdown.Model.Kernel;

public sealed partial class Cpu
{
    /// <summary>One smp_call_function_many_cond() in flight from this CPU, waiting in csd_lock_wait().</summary>
    private sealed class SmpCall(long serial, int[] targets, long waitStart)
    {
        public long Serial { get; } = serial;
        public int[] Targets { get; } = targets;
        public long[] UnlockTime { get; } = new long[targets.Length];
        public bool[] Declined { get; } = new bool[targets.Length];
        public long WaitStart { get; } = waitStart;
        public int Acks { get; set; }
        public long LastDeclinedAck { get; set; }

        public int Queued => Targets.Length - Declined.Count(d => d);
    }

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
    /// </summary>
    private SmpCall SmpCallFunctionManyCond(int[] targets, CsdMessage csd, bool runLocal, ISimContext ctx)
    {
        var serial = ++_callSerial;
        var now = ctx.Now;
        var t = now;
        var land = new long[targets.Length];
        for (var j = 0; j < targets.Length; j++)
        {
            t += _costs.CsdSetupPerTargetNs;
            land[j] = t;
        }

        var depart = new long[targets.Length];
        if (_costs.IpiShorthand && targets.Length == _machine.CpuCount - 1)
        {
            t += _costs.IcrWriteNs;
            Array.Fill(depart, t);
        }
        else if (_costs.ApicMode == ApicMode.X2ApicCluster)
        {
            // __x2apic_send_IPI_mask(): walk the mask in CPU order, one write per cluster met.
            var clusterDepart = new Dictionary<int, long>();
            for (var j = 0; j < targets.Length; j++)
            {
                var cluster = _machine.X2ApicClusterOf(targets[j]);
                if (!clusterDepart.TryGetValue(cluster, out var d))
                {
                    t += _costs.IcrWriteNs;
                    d = t;
                    clusterDepart[cluster] = d;
                }
                depart[j] = d;
            }
        }
        else
        {
            for (var j = 0; j < targets.Length; j++)
            {
                t += _costs.IcrWriteNs;
                depart[j] = t;
            }
        }

        var flags = csd.EncodeFlags();
        for (var j = 0; j < targets.Length; j++)
        {
            var arrival = depart[j] + _costs.IpiDelivery(_machine, Id, targets[j]);
            ctx.Send(targets[j], land[j], EventKind.CsdQueue, serial, csd.Mm, x: arrival, y: csd.NewTlbGen, flags: flags);
        }

        if (runLocal)
        {
            // SCF_RUN_LOCAL: flush_tlb_func() here, IRQs off, while the remote IPIs are in flight.
            var local = FlushTlbFunc(csd.Mm, csd.Pages, csd.Full, csd.NewTlbGen, csd.NewTlbGen, local: true, t, ctx);
            t += local;
            _localIrqOffUntil = t;
        }
        return new SmpCall(serial, targets, t);
    }

    /// <summary>A target unlocked its csd (or declined it). When all have answered, csd_lock_wait() is done.</summary>
    private void OnCsdAck(in SimEvent e, ISimContext ctx)
    {
        var call = _op?.Call;
        if (call is null || call.Serial != e.Op) throw new InvalidOperationException($"CPU {Id}: ack for call {e.Op} with none in flight");
        var j = Array.BinarySearch(call.Targets, e.Source);
        if ((e.Flags & CsdMessage.AckDeclined) != 0)
        {
            call.Declined[j] = true;
            call.LastDeclinedAck = Math.Max(call.LastDeclinedAck, ctx.Now);
        }
        else
        {
            call.UnlockTime[j] = e.X;
        }
        if (++call.Acks == call.Targets.Length) ctx.Send(Id, CsdLockWaitDone(call, ctx.Now), EventKind.OpStepDone, call.Serial);
    }

    /// <summary>
    /// csd_lock_wait() over the targets in CPU order: each poll waits for that csd's unlock and
    /// then pays one cache-line transfer from the target. A declined target was only read, during
    /// the setup loop, and its answer must be back.
    /// </summary>
    private long CsdLockWaitDone(SmpCall call, long now)
    {
        var t = call.WaitStart;
        for (var j = 0; j < call.Targets.Length; j++)
        {
            if (call.Declined[j]) continue;
            t = Math.Max(t, call.UnlockTime[j]) + _costs.CacheLineTransfer(_machine, call.Targets[j], Id);
        }
        return Math.Max(Math.Max(t, call.LastDeclinedAck), now);
    }
}
