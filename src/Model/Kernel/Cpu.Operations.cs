using System.Collections.Immutable;
using Shootdown.Model.Results;
using Shootdown.Model.Safety;
using Shootdown.Model.Simulation;
using Shootdown.Model.Topology;
using Shootdown.Model.Tracing;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Kernel;

public sealed partial class Cpu
{
    private enum OpPhase { PmdUnshare, CpumaskRead, FlushMask, Flush, Sync, SyncRcu }

    /// <summary>A kernel operation this CPU is executing, from its first step to its last.</summary>
    private sealed class Operation(long serial, int stream, OpStreamSpec spec, long arrival, long start)
    {
        public long Serial { get; } = serial;
        public int Stream { get; } = stream;
        public OpStreamSpec Spec { get; } = spec;
        public long Arrival { get; } = arrival;
        public long Start { get; } = start;
        public OpPhase Phase { get; set; }
        public SmpCall? Call { get; set; }
        public CpuMask? FlushedMask { get; set; }
        public bool FreedTables { get; set; }
        public bool NeedsSync { get; set; }
        public bool FullFlush { get; set; }
        public bool Synced { get; set; }
        public int FlushIpis { get; set; }
        public int SyncIpis { get; set; }
        public int Collateral { get; set; }
        /// <summary>How the flush reached the other CPUs, and when it started.</summary>
        public TlbFlushMechanism Mechanism { get; set; } = TlbFlushMechanism.None;
        public long FlushNs { get; set; }
        /// <summary>hugetlb: whether this unshare left the table to a single owner, who may now reuse it.</summary>
        public bool FullyUnshared { get; set; }
        /// <summary>What the sync on this path did, for the safety report.</summary>
        public string SyncOutcome { get; set; } = "no sync on this path";
        /// <summary>synchronize_rcu() ran: every reader that began before it has finished.</summary>
        public bool WaitedGracePeriod { get; set; }
        /// <summary>CPUs that took an interrupt for this operation; kept only when the run checks safety.</summary>
        public CpuMask.Builder? Interrupted { get; set; }
        /// <summary>Set when the operation is sampled for tracing.</summary>
        public OpTraceBuilder? Trace { get; set; }
        /// <summary>Handler time this CPU had stolen when the current step began; interrupts taken meanwhile delay the step.</summary>
        public long StolenAtStepStart { get; set; }
    }

    private readonly Queue<(int Stream, long Arrival)> _pendingOps = new();
    private Operation? _op;
    private long _opSerial;
    private int[]? _atIndex;
    private int[]? _issued;

    private void StartOpStreams(ISimContext ctx)
    {
        var streams = _setup.StreamsOn(Id);
        _atIndex = new int[streams.Length];
        _issued = new int[streams.Length];
        for (var s = 0; s < streams.Length; s++) ScheduleNextArrival(s, ctx, first: true);
    }

    private void ScheduleNextArrival(int stream, ISimContext ctx, bool first)
    {
        var spec = _setup.StreamsOn(Id)[stream];
        if (_issued![stream] == spec.Count) return;
        long at;
        if (spec.BackToBack)
        {
            at = Math.Max(ctx.Now, spec.StartNs);
        }
        else if (spec.RatePerSecond is { } rate)
        {
            at = Math.Max(ctx.Now, spec.StartNs) + _rng.NextExponentialNs(1e9 / rate);
        }
        else
        {
            var times = spec.AtNs.IsDefault ? [] : spec.AtNs;
            var i = _atIndex![stream];
            if (i >= times.Length) return;
            _atIndex[stream] = i + 1;
            at = Math.Max(times[i], ctx.Now);
        }
        if (at < _setup.DurationNs && (first || !spec.BackToBack || at >= ctx.Now))
        {
            _issued[stream]++;
            ctx.Send(Id, at, EventKind.OpArrival, arg: stream);
        }
    }

    private void OnOpArrival(in SimEvent e, ISimContext ctx)
    {
        var spec = _setup.StreamsOn(Id)[e.Arg];
        if (!spec.BackToBack) ScheduleNextArrival(e.Arg, ctx, first: false);
        _pendingOps.Enqueue((e.Arg, ctx.Now));
        if (_op is null) StartNextOp(ctx);
    }

    private void StartNextOp(ISimContext ctx)
    {
        if (!_pendingOps.TryDequeue(out var next)) return;
        var spec = _setup.StreamsOn(Id)[next.Stream];
        _op = new Operation(++_opSerial, next.Stream, spec, next.Arrival, ctx.Now);
        if (_tracing is not null && OpTraceSampling.Samples(_tracing.SampleRatio, _setup.Seed, Id, _op.Serial))
            _op.Trace = new OpTraceBuilder(_tracing, Id, _op.Serial, spec.Type, spec.Process, _setup.MmEntityId(spec.Process), next.Arrival, ctx.Now);
        if (_setup.ChecksSafety) _op.Interrupted = new CpuMask.Builder(_machine.CpuCount);
        switch (spec.Type)
        {
            case OpType.CollapseHugePage:
                // pmdp_collapse_flush() -> flush_tlb_range(): freed_tables=true; then the sync.
                _op.FreedTables = true;
                _op.NeedsSync = true;
                BeginFlushTlbMmRange(ctx);
                break;
            case OpType.HugetlbUnshare:
                HugePmdUnshare(ctx);
                break;
            case OpType.FlushRange:
                _op.FreedTables = false;
                BeginFlushTlbMmRange(ctx);
                break;
            case OpType.MunmapFreeTables:
                // The gather freed a table: tlb_flush() passes freed_tables. What happens to the
                // table after the flush is decided in AfterFlush.
                _op.FreedTables = true;
                BeginFlushTlbMmRange(ctx);
                break;
            case OpType.RetractPageTables:
            case OpType.TryCollapsePteMappedThp:
                // pmdp_collapse_flush(), then pmdp_get_lockless_sync(): the sync only under
                // CONFIG_GUP_GET_PXX_LOW_HIGH, an empty inline elsewhere.
                _op.FreedTables = true;
                _op.NeedsSync = _setup.Policy.GupGetPxxLowHigh;
                if (!_op.NeedsSync) _op.SyncOutcome = "pmdp_get_lockless_sync() is an empty inline without CONFIG_GUP_GET_PXX_LOW_HIGH";
                BeginFlushTlbMmRange(ctx);
                break;
            case OpType.SyncWithoutFlush:
                TlbRemoveTableSyncOne(ctx);
                break;
        }
    }

    /// <summary>
    /// mm/hugetlb.c huge_pmd_unshare(): drop our reference to the shared PMD table. The share
    /// count lives with the table's owner mm.
    /// </summary>
    private void HugePmdUnshare(ISimContext ctx)
    {
        var op = _op!;
        var owner = _setup.HugetlbOwnerOf(op.Spec.Process);
        if (owner < 0)
        {
            FinishOp(ctx);
            return;
        }
        op.Phase = OpPhase.PmdUnshare;
        op.Trace?.BeginStep(StepKind.TlbUnsharePmdPtdesc, ctx.Now);
        ctx.Send(_setup.MmEntityId(owner), ctx.Now + _costs.MmContextAccessNs, EventKind.MmPmdUnshare, op.Serial, arg: op.Spec.Process);
    }

    private void OnPmdUnshared(in SimEvent e, ISimContext ctx)
    {
        var op = _op!;
        var wasShared = (e.Flags & 1) != 0;
        op.Trace?.Outcome(!wasShared ? "not shared" : (e.Flags & 2) != 0 ? "last sharer left: the table is private again" : "still shared");
        op.Trace?.EndStep(ctx.Now);
        if (!wasShared)
        {
            FinishOp(ctx);
            return;
        }
        // tlb_flush_unshared_tables(): tlb_flush_mmu_tlbonly() with unshared_tables set; upstream
        // passes tlb->freed_tables (false here), the series passes wake_lazy_cpus.
        op.FreedTables = _setup.Policy.TlbFlushWakesLazyCpusForUnsharedTables;
        op.FullyUnshared = (e.Flags & 2) != 0;
        // Before David Hildenbrand's fix every unshare synced; since, only the last sharer's.
        op.NeedsSync = op.FullyUnshared || _setup.Policy.HugetlbSyncEveryUnshare;
        BeginFlushTlbMmRange(ctx);
    }

    /// <summary>arch/x86/mm/tlb.c flush_tlb_mm_range(), first half: inc_mm_tlb_gen() and read mm_cpumask.</summary>
    private void BeginFlushTlbMmRange(ISimContext ctx)
    {
        var op = _op!;
        op.Phase = OpPhase.FlushMask;
        op.Trace?.BeginStep(StepKind.FlushTlbMmRange, ctx.Now);
        ctx.Send(_setup.MmEntityId(op.Spec.Process), ctx.Now + _costs.MmContextAccessNs, EventKind.MmFlushBegin, op.Serial);
    }

    /// <summary>
    /// flush_tlb_mm_range(), second half. Above tlb_single_page_flush_ceiling the range becomes
    /// a full flush. An mm with a global ASID is flushed by INVLPGB. Otherwise, if any other CPU
    /// is in mm_cpumask, flush_tlb_multi() through the machine's pv_ops (or the architecture's own
    /// flush): see <see cref="FlushTlbMulti"/>. Else a local flush if the mm is loaded here.
    /// arm64 has no IPI path at all: its flush_tlb_range() always broadcasts TLBI …IS.
    /// </summary>
    private void OnFlushMask(in SimEvent e, ISimContext ctx)
    {
        var op = _op!;
        var mm = _setup.MmEntityId(op.Spec.Process);
        var mask = ctx.AttachedMask(e);
        if (op.Spec.FlushTargets is { } replayed) mask = ReplayedFlushMask(replayed);
        var newTlbGen = e.X;
        op.FlushedMask = mask;
        op.FullFlush = op.Spec.Pages > _costs.TlbSinglePageFlushCeiling;
        op.Phase = OpPhase.Flush;
        op.FlushNs = ctx.Now;
        op.StolenAtStepStart = Stats.StolenNs;
        op.Call = null;

        if ((e.Flags & MmStruct.FlushGlobalAsid) != 0 && (e.Flags & MmStruct.FlushAsidTransition) == 0)
        {
            // broadcast_tlb_flush(): INVLPGB per stride (or once for the PCID), then TLBSYNC.
            op.Mechanism = TlbFlushMechanism.Invlpgb;
            op.Trace?.Outcome("broadcast_tlb_flush: INVLPGB + TLBSYNC, no IPIs", op.Spec.Pages, op.FullFlush, op.FreedTables);
            var cost = (op.FullFlush ? _costs.InvlpgbFullNs : op.Spec.Pages * _costs.InvlpgbPerPageNs) + _costs.TlbsyncNs;
            FlushDoneAfter(cost, ctx);
            return;
        }
        if (_setup.Features.Arch == Arch.Arm64)
        {
            // arch/arm64 __flush_tlb_range(): TLBI VALE1IS per page (ASIDE1IS for the whole ASID), DSB ISH.
            op.Mechanism = TlbFlushMechanism.TlbiBroadcast;
            op.Trace?.Outcome("arm64: TLBI …IS broadcast + DSB ISH, no IPIs", op.Spec.Pages, op.FullFlush, op.FreedTables);
            FlushDoneAfter((op.FullFlush ? 1 : op.Spec.Pages) * _costs.TlbiPerPageNs + _costs.DsbIshNs, ctx);
            return;
        }
        if (mask.AnyBut(Id))
        {
            FlushTlbMulti(mm, mask, newTlbGen, trim: (e.Flags & MmStruct.FlushTrimCpumask) != 0, ctx);
            return;
        }
        op.Mechanism = TlbFlushMechanism.LocalOnly;
        op.Trace?.Outcome(LoadedMm == mm ? "local flush only" : "no flush: not loaded here, no other CPU in mm_cpumask", op.Spec.Pages, op.FullFlush, op.FreedTables);
        FlushDoneAfter(0, ctx, newTlbGen);
    }

    /// <summary>
    /// flush_tlb_multi(mm_cpumask(mm), info), by backend:
    /// <list type="bullet">
    /// <item>native_flush_tlb_multi(): IPIs all of the mask when freed_tables (wake_lazy_cpus) is
    /// set, else only the CPUs should_flush_tlb() accepts;</item>
    /// <item>kvm_flush_tlb_multi(): first drops every vCPU whose steal-time record says preempted
    /// (the host flushes it before its next entry), then native_flush_tlb_multi() on the rest;</item>
    /// <item>Hyper-V and Xen: a flush hypercall, no guest IPIs;</item>
    /// <item>RISC-V: an SBI remote fence, or on_each_cpu_mask() over the mask.</item>
    /// </list>
    /// </summary>
    private void FlushTlbMulti(int mm, CpuMask mask, long newTlbGen, bool trim, ISimContext ctx)
    {
        var op = _op!;
        var features = _setup.Features;
        if (features.Arch == Arch.RiscV && features.RiscVRemoteFence == RiscVRemoteFence.Sbi)
        {
            op.Mechanism = TlbFlushMechanism.SbiRemoteFence;
            op.Trace?.Outcome("riscv: sbi_remote_sfence_vma_asid(), no Linux IPIs", op.Spec.Pages, op.FullFlush, op.FreedTables);
            FlushDoneAfter(_costs.SbiRemoteFenceNs, ctx, newTlbGen);
            return;
        }
        if (features.Arch == Arch.X86 && features.FlushTlbMulti is FlushTlbMultiBackend.HyperV or FlushTlbMultiBackend.Xen)
        {
            op.Mechanism = TlbFlushMechanism.Hypercall;
            op.Trace?.Outcome($"{(features.FlushTlbMulti == FlushTlbMultiBackend.HyperV ? "hyperv" : "xen")}_flush_tlb_multi: flush hypercall, no guest IPIs",
                op.Spec.Pages, op.FullFlush, op.FreedTables);
            FlushDoneAfter(_costs.HypercallFlushNs, ctx);
            return;
        }
        op.Mechanism = TlbFlushMechanism.Ipi;
        var kvm = features.Arch == Arch.X86 && features.FlushTlbMulti == FlushTlbMultiBackend.KvmPv;
        // RISC-V's IPI path is on_each_cpu_mask(): unconditional, like freed_tables on x86.
        var conditional = features.Arch == Arch.X86 && !op.FreedTables && op.Spec.FlushTargets is null;
        var csd = new CsdMessage(CsdFunc.FlushTlbFunc, mm, op.Spec.Pages, newTlbGen, op.FullFlush, conditional ? CsdCond.ShouldFlushTlb : CsdCond.None, trim);
        var runLocal = mask.Test(Id) && (!conditional || ShouldFlushTlb(mm, trim));
        var targets = RentTargets(mask.NrCpus);
        var count = 0;
        var dropped = 0;
        foreach (var c in mask.Cpus())
        {
            if (c == Id) continue;
            if (kvm && _setup.Preemption.IsPreempted(c, ctx.Now))
            {
                dropped++;
                continue;
            }
            targets[count++] = c;
        }
        op.Trace?.Outcome(kvm ? $"kvm_flush_tlb_multi: {dropped} preempted vCPU(s) left to the host, native_flush_tlb_multi on the rest" : "native_flush_tlb_multi",
            op.Spec.Pages, op.FullFlush, op.FreedTables);
        TraceTlbFlush(ctx.Now, op.Spec.Process, TracedPages(op.Spec.Pages, op.FullFlush), TlbFlushReason.RemoteSendIpi);
        var start = ctx.Now;
        if (runLocal && _setup.Policy.FlushLocalBeforeRemote)
        {
            // Before the concurrent-flush series: flush_tlb_func_local() with IRQs off, then flush_tlb_others().
            start += FlushTlbFunc(mm, op.Spec.Pages, op.FullFlush, newTlbGen, newTlbGen, local: true, start, ctx);
            _localIrqOffUntil = start;
            runLocal = false;
        }
        op.Call = SmpCallFunctionManyCond(targets, count, csd, runLocal, start, ctx);
        if (count == 0) OnCallAnswered(op.Call, ctx);
    }

    /// <summary>A replayed flush's mask: the captured csd targets, and this CPU (which flushes itself if the mm is loaded here).</summary>
    private CpuMask ReplayedFlushMask(ImmutableArray<int> targets)
    {
        var mask = new CpuMask.Builder(_machine.CpuCount);
        mask.Set(Id);
        foreach (var c in targets) mask.Set(c);
        return mask.ToMask();
    }

    /// <summary>A flush that sends no IPI: done after its own cost, plus the local flush_tlb_func() if the mm is loaded here.</summary>
    private void FlushDoneAfter(long cost, ISimContext ctx, long? localTlbGen = null)
    {
        var op = _op!;
        var mm = _setup.MmEntityId(op.Spec.Process);
        var done = ctx.Now + cost;
        if (localTlbGen is { } gen && LoadedMm == mm)
        {
            done += FlushTlbFunc(mm, op.Spec.Pages, op.FullFlush, gen, gen, local: true, done, ctx);
            _localIrqOffUntil = done;
        }
        ctx.Send(Id, done, EventKind.OpStepDone);
    }

    /// <summary>
    /// mm/mmu_gather.c tlb_remove_table_sync_one(): an empty inline without
    /// CONFIG_MMU_GATHER_RCU_TABLE_FREE; with the series, a no-op when
    /// tlb_table_flush_implies_ipi_broadcast(); else smp_call_function(..., wait=1) to every
    /// online CPU but this one. The what-if scopes narrow the targets: mm_cpumask (read now), or
    /// a conditional call that only queues on CPUs inside a lockless walk.
    /// </summary>
    private void TlbRemoveTableSyncOne(ISimContext ctx)
    {
        var op = _op!;
        op.Phase = OpPhase.Sync;
        op.StolenAtStepStart = Stats.StolenNs;
        op.Call = null;
        var skipped = _setup.Policy.SyncSkippedBecause(_setup.Features);
        if (skipped is not null || _machine.CpuCount == 1)
        {
            op.Trace?.BeginStep(StepKind.TlbRemoveTableSyncOne, ctx.Now);
            op.SyncOutcome = skipped ?? "no other online CPU";
            op.Trace?.Outcome(op.SyncOutcome);
            ctx.Send(Id, ctx.Now, EventKind.OpStepDone);
            return;
        }
        if (_setup.Policy.SyncScope == SyncScope.MmCpumask && op.FlushedMask is null)
        {
            // No flush read mm_cpumask for us: read it first.
            op.Phase = OpPhase.CpumaskRead;
            ctx.Send(_setup.MmEntityId(op.Spec.Process), ctx.Now + _costs.MmContextAccessNs, EventKind.MmCpumaskRead, op.Serial);
            return;
        }
        op.Trace?.BeginStep(StepKind.TlbRemoveTableSyncOne, ctx.Now);
        var targets = RentTargets(_machine.CpuCount);
        var count = 0;
        var csd = CsdMessage.Sync;
        string call;
        switch (_setup.Policy.SyncScope)
        {
            case SyncScope.MmCpumask:
                foreach (var c in op.FlushedMask!.Cpus())
                    if (c != Id) targets[count++] = c;
                op.SyncOutcome = "IPI to mm_cpumask only (what-if)";
                call = "smp_call_function_many: mm_cpumask";
                break;
            case SyncScope.CpusInLocklessWalk:
                csd = CsdMessage.SyncIfInLocklessWalk;
                count = AllOnlineCpusButThis(targets);
                op.SyncOutcome = "IPI only to CPUs inside a lockless walk (what-if)";
                call = "smp_call_function_many_cond: CPUs inside a lockless walk";
                break;
            default:
                // smp_call_function(): cpu_online_mask minus this CPU.
                count = AllOnlineCpusButThis(targets);
                op.SyncOutcome = "IPI to every online CPU but the caller";
                call = "smp_call_function: every online CPU but this one";
                break;
        }
        op.Trace?.Outcome(call);
        op.Synced = true;
        // tlb_remove_table_smp_sync() ignores its argument; the mm only names the caller's task in a trace.
        csd = csd with { Mm = _setup.MmEntityId(op.Spec.Process) };
        op.Call = SmpCallFunctionManyCond(targets, count, csd, runLocal: false, ctx.Now, ctx);
        if (count == 0) OnCallAnswered(op.Call, ctx);
    }

    private int AllOnlineCpusButThis(int[] targets)
    {
        var count = 0;
        for (var c = 0; c < _machine.CpuCount; c++)
            if (c != Id) targets[count++] = c;
        return count;
    }

    private void OnCpumaskSnapshot(in SimEvent e, ISimContext ctx)
    {
        var op = _op!;
        op.FlushedMask = ctx.AttachedMask(e);
        TlbRemoveTableSyncOne(ctx);
    }

    /// <summary>
    /// mm/mmu_gather.c tlb_remove_table_sync_rcu(): synchronize_rcu(), unless the series' early
    /// return applies. The caller blocks for a grace period (<see cref="Costs.CostModel.RcuGracePeriodNs"/>).
    /// </summary>
    private void TlbRemoveTableSyncRcu(ISimContext ctx)
    {
        var op = _op!;
        op.Phase = OpPhase.SyncRcu;
        op.StolenAtStepStart = Stats.StolenNs;
        op.Call = null;
        op.Trace?.BeginStep(StepKind.TlbRemoveTableSyncRcu, ctx.Now);
        var skipped = _setup.Policy.SyncSkippedBecause(_setup.Features);
        op.SyncOutcome = skipped ?? "synchronize_rcu()";
        op.WaitedGracePeriod = skipped is null;
        op.Trace?.Outcome(op.SyncOutcome);
        ctx.Send(Id, ctx.Now + (skipped is null ? _costs.RcuGracePeriodNs : 0), EventKind.OpStepDone);
    }

    /// <summary>
    /// A step's wait is over. Interrupts this CPU took meanwhile stole time from it, so the step
    /// ends that much later; then the operation moves on.
    /// </summary>
    private void OnOpStepDone(in SimEvent e, ISimContext ctx)
    {
        var op = _op!;
        if (op.Call is { } call && e.Op != call.Serial) return;
        var stolen = Stats.StolenNs - op.StolenAtStepStart;
        if (stolen > 0)
        {
            op.StolenAtStepStart = Stats.StolenNs;
            ctx.Send(Id, Math.Max(ctx.Now + stolen, _handlerBusyUntil), EventKind.OpStepDone, e.Op);
            return;
        }
        if (op.Call is { } done)
        {
            if (op.Phase == OpPhase.Flush) op.FlushIpis = done.Queued;
            else if (op.Phase == OpPhase.Sync) CountSyncTargets(op, done);
            done.Release();
            op.Call = null;
        }
        op.Trace?.EndStep(ctx.Now);
        switch (op.Phase)
        {
            case OpPhase.Flush:
                AfterFlush(ctx);
                break;
            case OpPhase.Sync:
            case OpPhase.SyncRcu:
                AfterSync(ctx);
                break;
            default:
                FinishOp(ctx);
                break;
        }
    }

    /// <summary>The sync's IPIs: the csds queued, and those that went to CPUs outside the mm_cpumask the flush read.</summary>
    private static void CountSyncTargets(Operation op, SmpCall call)
    {
        op.SyncIpis = call.Queued;
        var mask = op.FlushedMask;
        var collateral = 0;
        for (var j = 0; j < call.Count; j++)
        {
            var c = call.Targets[j];
            if (!call.Declined[c] && (mask is null || !mask.Test(c))) collateral++;
        }
        op.Collateral = collateral;
    }

    /// <summary>What each operation does once its TLB flush is complete.</summary>
    private void AfterFlush(ISimContext ctx)
    {
        var op = _op!;
        if (op.Spec.Type == OpType.MunmapFreeTables)
        {
            FreePageTable(ctx);
            return;
        }
        if (op.NeedsSync)
        {
            TlbRemoveTableSyncOne(ctx);
            return;
        }
        AfterSync(ctx);
    }

    /// <summary>
    /// mm/mmu_gather.c, a page table handed to tlb_remove_table() during munmap:
    /// <list type="bullet">
    /// <item>without CONFIG_MMU_GATHER_RCU_TABLE_FREE it is freed right after the flush;</item>
    /// <item>normally it rides an RCU batch (tlb_table_flush(): call_rcu);</item>
    /// <item>when the GFP_NOWAIT batch page cannot be had, __tlb_remove_table_one(): call_rcu()
    /// with CONFIG_PT_RECLAIM, else tlb_remove_table_sync_rcu() (since 1fb3d8c20bfa) or
    /// tlb_remove_table_sync_one() (before), then the free.</item>
    /// </list>
    /// Whether the batch allocation fails is a pure function of (seed, CPU, operation).
    /// </summary>
    private void FreePageTable(ISimContext ctx)
    {
        var op = _op!;
        var policy = _setup.Policy;
        if (!policy.MmuGatherRcuTableFree)
        {
            op.SyncOutcome = "none: without CONFIG_MMU_GATHER_RCU_TABLE_FREE the table is freed right after the flush";
            Retire(RetireHazard.AllWalkers, rcuDeferred: false, ctx);
            FinishOp(ctx);
            return;
        }
        var batchFails = op.Spec.BatchAllocFailProbability > 0
            && new Prng(_setup.Seed ^ 0xBA7C_4A11UL, (ulong)Id << 32 | (ulong)op.Serial).NextDouble() < op.Spec.BatchAllocFailProbability;
        if (!batchFails || policy.PtReclaim)
        {
            op.SyncOutcome = batchFails ? "__tlb_remove_table_one(): call_rcu() (CONFIG_PT_RECLAIM)" : "tlb_table_flush(): the batch is freed after an RCU grace period";
            Retire(RetireHazard.AllWalkers, rcuDeferred: true, ctx);
            FinishOp(ctx);
            return;
        }
        op.NeedsSync = true;
        if (policy.RemoveTableOneFallback == RemoveTableOneFallback.SyncOne) TlbRemoveTableSyncOne(ctx);
        else TlbRemoveTableSyncRcu(ctx);
    }

    /// <summary>What each operation does once its sync (if any) is over: the table is reused or freed.</summary>
    private void AfterSync(ISimContext ctx)
    {
        var op = _op!;
        switch (op.Spec.Type)
        {
            case OpType.CollapseHugePage:
            case OpType.SyncWithoutFlush:
                // The PTE table is re-deposited (or otherwise reused) after the sync.
                Retire(RetireHazard.IrqOffWalkers, rcuDeferred: false, ctx);
                break;
            case OpType.HugetlbUnshare when op.FullyUnshared:
                // The remaining owner may now reuse the table.
                Retire(RetireHazard.IrqOffWalkers, rcuDeferred: false, ctx);
                break;
            case OpType.MunmapFreeTables:
                // __tlb_remove_table(): freed now. synchronize_rcu() waited for every reader that
                // began before it, IRQ-off walkers included.
                Retire(RetireHazard.AllWalkers, rcuDeferred: op.WaitedGracePeriod, ctx);
                break;
            case OpType.RetractPageTables:
            case OpType.TryCollapsePteMappedThp:
                // pmdp_get_lockless_sync()'s promise, then pte_free_defer(): an RCU-deferred free.
                Retire(RetireHazard.PaeReaders, rcuDeferred: false, ctx);
                Retire(RetireHazard.AllWalkers, rcuDeferred: true, ctx);
                break;
        }
        FinishOp(ctx);
    }

    /// <summary>Records that the table this operation cleared at its start is reused or freed now.</summary>
    private void Retire(RetireHazard hazard, bool rcuDeferred, ISimContext ctx)
    {
        var op = _op!;
        if (op.Interrupted is null) return;
        Retires.Add(new TableRetire(Id, op.Serial, op.Spec.Type, op.Spec.Process, op.Start, ctx.Now, hazard, rcuDeferred,
            op.Mechanism, op.FlushNs, op.FlushedMask, op.Interrupted.ToMask(), op.SyncOutcome));
    }

    private void FinishOp(ISimContext ctx)
    {
        var op = _op!;
        CompletedOps.Add(new OpRecord(Id, op.Serial, op.Spec.Type, op.Spec.Process, op.Arrival, op.Start, ctx.Now,
            op.FlushIpis, op.SyncIpis, op.Collateral, op.FullFlush, op.Synced));
        op.Trace?.Finish(ctx.Now);
        _op = null;
        if (op.Spec.BackToBack) ScheduleNextArrival(op.Stream, ctx, first: false);
        StartNextOp(ctx);
    }
}
