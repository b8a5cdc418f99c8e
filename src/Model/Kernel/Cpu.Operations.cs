using Shootdown.Model.Results;
using Shootdown.Model.Simulation;
using Shootdown.Model.Topology;
using Shootdown.Model.Tracing;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Kernel;

public sealed partial class Cpu
{
    private enum OpPhase { PmdUnshare, FlushMask, Flush, Sync }

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
        /// <summary>Set when the operation is sampled for tracing.</summary>
        public OpTraceBuilder? Trace { get; set; }
        /// <summary>Handler time this CPU had stolen when the current step began; interrupts taken meanwhile delay the step.</summary>
        public long StolenAtStepStart { get; set; }
    }

    private readonly Queue<(int Stream, long Arrival)> _pendingOps = new();
    private Operation? _op;
    private long _opSerial;
    private int[]? _atIndex;

    private void StartOpStreams(ISimContext ctx)
    {
        var streams = _setup.StreamsOn(Id);
        _atIndex = new int[streams.Length];
        for (var s = 0; s < streams.Length; s++) ScheduleNextArrival(s, ctx, first: true);
    }

    private void ScheduleNextArrival(int stream, ISimContext ctx, bool first)
    {
        var spec = _setup.StreamsOn(Id)[stream];
        long at;
        if (spec.BackToBack)
        {
            at = ctx.Now;
        }
        else if (spec.RatePerSecond is { } rate)
        {
            at = ctx.Now + _rng.NextExponentialNs(1e9 / rate);
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
            ctx.Send(Id, at, EventKind.OpArrival, arg: stream);
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
        op.NeedsSync = (e.Flags & 2) != 0;
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
    /// a full flush. If any other CPU is in mm_cpumask: native_flush_tlb_multi(), which IPIs all
    /// of the mask when freed_tables (wake_lazy_cpus) is set and otherwise only the CPUs
    /// should_flush_tlb() accepts. Else a local flush if the mm is loaded here.
    /// </summary>
    private void OnFlushMask(in SimEvent e, ISimContext ctx)
    {
        var op = _op!;
        var mm = _setup.MmEntityId(op.Spec.Process);
        var mask = ctx.AttachedMask(e);
        var newTlbGen = e.X;
        var trim = (e.Flags & 1) != 0;
        op.FlushedMask = mask;
        op.FullFlush = op.Spec.Pages > _costs.TlbSinglePageFlushCeiling;
        op.Phase = OpPhase.Flush;
        op.StolenAtStepStart = Stats.StolenNs;

        if (mask.AnyBut(Id))
        {
            op.Trace?.Outcome("native_flush_tlb_multi", op.Spec.Pages, op.FullFlush, op.FreedTables);
            var conditional = !op.FreedTables;
            var csd = new CsdMessage(CsdFunc.FlushTlbFunc, mm, op.Spec.Pages, newTlbGen, op.FullFlush, conditional, trim);
            var runLocal = mask.Test(Id) && (!conditional || ShouldFlushTlb(mm, trim));
            var targets = RentTargets(mask.NrCpus);
            var count = 0;
            foreach (var c in mask.Cpus())
                if (c != Id) targets[count++] = c;
            op.Call = SmpCallFunctionManyCond(targets, count, csd, runLocal, ctx);
            return;
        }
        var done = ctx.Now;
        op.Trace?.Outcome(LoadedMm == mm ? "local flush only" : "no flush: not loaded here, no other CPU in mm_cpumask", op.Spec.Pages, op.FullFlush, op.FreedTables);
        if (LoadedMm == mm)
        {
            done += FlushTlbFunc(mm, op.Spec.Pages, op.FullFlush, newTlbGen, newTlbGen, local: true, done, ctx);
            _localIrqOffUntil = done;
        }
        op.Call = null;
        ctx.Send(Id, done, EventKind.OpStepDone);
    }

    /// <summary>
    /// mm/mmu_gather.c tlb_remove_table_sync_one(): an empty inline without
    /// CONFIG_MMU_GATHER_RCU_TABLE_FREE; with the series, a no-op when
    /// tlb_table_flush_implies_ipi_broadcast(); else smp_call_function(..., wait=1) to every
    /// online CPU but this one.
    /// </summary>
    private void TlbRemoveTableSyncOne(ISimContext ctx)
    {
        var op = _op!;
        op.Phase = OpPhase.Sync;
        op.StolenAtStepStart = Stats.StolenNs;
        op.Trace?.BeginStep(StepKind.TlbRemoveTableSyncOne, ctx.Now);
        var noRcuTableFree = !_setup.Policy.MmuGatherRcuTableFree;
        var skip = noRcuTableFree || (_setup.Policy.SkipSyncWhenFlushImpliesIpiBroadcast && _setup.TlbIpiBroadcastKey);
        if (skip || _machine.CpuCount == 1)
        {
            op.Trace?.Outcome(noRcuTableFree ? "empty inline: no CONFIG_MMU_GATHER_RCU_TABLE_FREE"
                : skip ? "skipped: tlb_table_flush_implies_ipi_broadcast()" : "no other online CPU");
            op.Call = null;
            ctx.Send(Id, ctx.Now, EventKind.OpStepDone);
            return;
        }
        // smp_call_function(): cpu_online_mask minus this CPU.
        var targets = RentTargets(_machine.CpuCount);
        var count = 0;
        var collateral = 0;
        var mask = op.FlushedMask;
        for (var c = 0; c < _machine.CpuCount; c++)
        {
            if (c == Id) continue;
            targets[count++] = c;
            if (mask is null || !mask.Test(c)) collateral++;
        }
        op.Trace?.Outcome("smp_call_function: every online CPU but this one");
        op.Synced = true;
        op.SyncIpis = count;
        op.Collateral = collateral;
        op.Call = SmpCallFunctionManyCond(targets, count, CsdMessage.Sync, runLocal: false, ctx);
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
        op.Call?.Release();
        op.Trace?.EndStep(ctx.Now);
        if (op.Phase == OpPhase.Flush)
        {
            op.FlushIpis = op.Call?.Queued ?? 0;
            if (op.NeedsSync)
            {
                TlbRemoveTableSyncOne(ctx);
                return;
            }
        }
        FinishOp(ctx);
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
