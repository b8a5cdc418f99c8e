using Shootdown.Model.Safety;
using Shootdown.Model.Simulation;
using Shootdown.Model.Tracing;

namespace Shootdown.Model.Kernel;

/// <summary>
/// mm/mmu_gather.c, one CPU's side: <c>tlb_remove_table()</c> and what happens to a page table
/// after its flush, and the two syncs, <c>tlb_remove_table_sync_one()</c> and
/// <c>tlb_remove_table_sync_rcu()</c>, with the series' early return.
/// </summary>
public sealed class MmuGather(Cpu cpu)
{
    /// <summary>
    /// tlb_remove_table_sync_one(). In the kernel:
    /// <code>
    /// if (tlb_table_flush_implies_ipi_broadcast()) return;   /* the series */
    /// smp_call_function(tlb_remove_table_smp_sync, NULL, 1);
    /// </code>
    /// and an empty inline without CONFIG_MMU_GATHER_RCU_TABLE_FREE. Which CPUs it interrupts is
    /// the policy's <see cref="KernelPolicy.SyncScope"/>, the one point where the what-ifs plug in:
    /// every online CPU but this one (upstream), the mm's mm_cpumask (read now if no flush read it),
    /// or a conditional call that queues only on CPUs inside a lockless walk.
    /// </summary>
    public void TlbRemoveTableSyncOne(KernelOperation op, ISimContext ctx)
    {
        var setup = cpu.Setup;
        op.Phase = OpPhase.Sync;
        op.StolenAtStepStart = cpu.Stats.StolenNs;
        var skipped = setup.Policy.SyncOneSkippedBecause(setup.Features, op, cpu.Id);
        if (skipped is not null || cpu.Machine.CpuCount == 1)
        {
            op.Trace?.BeginStep(StepKind.TlbRemoveTableSyncOne, ctx.Now);
            op.SyncOutcome = skipped ?? "no other online CPU";
            op.Trace?.Outcome(op.SyncOutcome);
            StepDone.Send(ctx, cpu.Id, ctx.Now);
            return;
        }
        if (setup.Policy.SyncScope == SyncScope.RcuGracePeriod)
        {
            // The alternative: no IPI at all; the grace period waits for every IRQs-off walk.
            op.Phase = OpPhase.SyncRcu;
            op.Trace?.BeginStep(StepKind.TlbRemoveTableSyncRcu, ctx.Now);
            op.SyncOutcome = "synchronize_rcu() in place of the IPI broadcast (alternative)";
            op.Trace?.Outcome(op.SyncOutcome);
            op.Synced = true;
            cpu.Rcu.SynchronizeRcu(op, ctx);
            return;
        }
        if (setup.Policy.SyncScope == SyncScope.MmCpumask && op.FlushedMask is null)
        {
            // No flush read mm_cpumask for us: read it first (CpumaskSnapshot brings it back here).
            op.Phase = OpPhase.CpumaskRead;
            MmRequest.Send(ctx, setup.MmEntityId(op.Spec.Process), ctx.Now + cpu.Costs.MmContextAccessNs, EventKind.MmCpumaskRead, op.Serial);
            return;
        }
        op.Trace?.BeginStep(StepKind.TlbRemoveTableSyncOne, ctx.Now);
        var targets = SmpCallFunction.RentTargets(cpu.Machine.CpuCount);
        var count = 0;
        // tlb_remove_table_smp_sync() ignores its argument; the mm only names the caller's task in a trace.
        var mm = setup.MmEntityId(op.Spec.Process);
        string call;
        CsdCond cond;
        if (setup.Policy.SyncScope == SyncScope.MmCpumask)
        {
            foreach (var c in op.FlushedMask!.Cpus())
                if (c != cpu.Id) targets[count++] = c;
            (cond, op.SyncOutcome, call) = (CsdCond.None, "IPI to mm_cpumask only (what-if)", "smp_call_function_many: mm_cpumask");
        }
        else
        {
            // smp_call_function() over cpu_online_mask minus this CPU, or a conditional call over it.
            count = AllOnlineCpusButThis(targets);
            (cond, op.SyncOutcome, call) = setup.Policy.SyncScope switch
            {
                SyncScope.CpusNotInEqs => (CsdCond.NotInEqs,
                    "synchronize_rcu_expedited(): IPI to every CPU not in an extended quiescent state (alternative)",
                    "smp_call_function_many_cond: CPUs not idle (synchronize_rcu_expedited)"),
                SyncScope.CpusInLocklessWalk => (CsdCond.InLocklessWalk,
                    "IPI only to CPUs inside a lockless walk (what-if)", "smp_call_function_many_cond: CPUs inside a lockless walk"),
                _ => (CsdCond.None, "IPI to every online CPU but the caller", "smp_call_function: every online CPU but this one"),
            };
        }
        var csd = Csd.Sync(mm, cond, op.InKhugepaged);
        op.Trace?.Outcome(call);
        op.Synced = true;
        cpu.Smp.SmpCallFunctionManyCond(targets, count, csd, runLocal: false, ctx.Now, op.Trace, op.Interrupted, ctx);
    }

    /// <summary>The mm's mm_cpumask, read for a sync scoped to it: the sync goes on.</summary>
    public void CpumaskSnapshot(in SimEvent e, ISimContext ctx)
    {
        var op = cpu.Ops.Current;
        op.FlushedMask = ctx.AttachedMask(e);
        TlbRemoveTableSyncOne(op, ctx);
    }

    private int AllOnlineCpusButThis(int[] targets)
    {
        var count = 0;
        for (var c = 0; c < cpu.Machine.CpuCount; c++)
            if (c != cpu.Id) targets[count++] = c;
        return count;
    }

    /// <summary>
    /// tlb_remove_table_sync_rcu(): synchronize_rcu(), unless the series' early return applies.
    /// The caller blocks for a grace period (<see cref="RcuTree.SynchronizeRcu"/>).
    /// </summary>
    private void TlbRemoveTableSyncRcu(KernelOperation op, ISimContext ctx)
    {
        var setup = cpu.Setup;
        op.Phase = OpPhase.SyncRcu;
        op.StolenAtStepStart = cpu.Stats.StolenNs;
        op.Trace?.BeginStep(StepKind.TlbRemoveTableSyncRcu, ctx.Now);
        var skipped = setup.Policy.SyncSkippedBecause(setup.Features);
        op.SyncOutcome = skipped ?? "synchronize_rcu()";
        op.WaitedGracePeriod = skipped is null;
        op.Trace?.Outcome(op.SyncOutcome);
        if (skipped is null) cpu.Rcu.SynchronizeRcu(op, ctx);
        else StepDone.Send(ctx, cpu.Id, ctx.Now);
    }

    /// <summary>
    /// tlb_remove_table() for a page table munmap freed, once the flush is done:
    /// <list type="bullet">
    /// <item>without CONFIG_MMU_GATHER_RCU_TABLE_FREE it is freed right after the flush;</item>
    /// <item>normally it rides an RCU batch (tlb_table_flush(): call_rcu);</item>
    /// <item>when the GFP_NOWAIT batch page cannot be had, __tlb_remove_table_one(): call_rcu()
    /// with CONFIG_PT_RECLAIM, else tlb_remove_table_sync_rcu() (since 1fb3d8c20bfa) or
    /// tlb_remove_table_sync_one() (before), then the free (the caller's next step).</item>
    /// </list>
    /// Whether the batch allocation fails is a pure function of (seed, CPU, operation).
    /// </summary>
    public void TlbRemoveTable(KernelOperation op, ISimContext ctx)
    {
        var setup = cpu.Setup;
        var policy = setup.Policy;
        if (!policy.MmuGatherRcuTableFree)
        {
            op.SyncOutcome = "none: without CONFIG_MMU_GATHER_RCU_TABLE_FREE the table is freed right after the flush";
            cpu.Ops.Retire(op, RetireHazard.AllWalkers, rcuDeferred: false, ctx);
            cpu.Ops.Finish(op, ctx);
            return;
        }
        var batchFails = op.Spec.BatchAllocFailProbability > 0
            && new Prng(setup.Seed, (ulong)cpu.Id << 32 | (ulong)op.Serial, RandomStream.BatchAlloc).NextDouble() < op.Spec.BatchAllocFailProbability;
        if (!batchFails || policy.PtReclaim)
        {
            op.SyncOutcome = batchFails ? "__tlb_remove_table_one(): call_rcu() (CONFIG_PT_RECLAIM)" : "tlb_table_flush(): the batch is freed after an RCU grace period";
            cpu.Ops.Retire(op, RetireHazard.AllWalkers, rcuDeferred: true, ctx);
            cpu.Ops.Finish(op, ctx);
            return;
        }
        if (policy.RemoveTableOneFallback == RemoveTableOneFallback.SyncOne) TlbRemoveTableSyncOne(op, ctx);
        else TlbRemoveTableSyncRcu(op, ctx);
    }
}
