using Shootdown.Model.Results;
using Shootdown.Model.Safety;
using Shootdown.Model.Simulation;
using Shootdown.Model.State;
using Shootdown.Model.Topology;
using Shootdown.Model.Tracing;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Kernel;

/// <summary>
/// The kernel operations one CPU initiates: their arrivals (a scenario's operation streams), one
/// at a time in arrival order, and each operation's kernel function in kernel order. The model is
/// event-driven where the kernel blocks, so each function is written as its steps: every wait
/// (an mm's answer, a flush, a sync) ends in <see cref="Continue"/>, which calls the function
/// again for its next step.
/// </summary>
public sealed class KernelOperations(Cpu cpu, Prng rng)
{
    private readonly Queue<(int Stream, long Arrival)> _pending = new();
    private KernelOperation? _op;
    private long _serial;
    // Per operation stream: the next of its listed times, and how many of its operations have arrived.
    private readonly int[] _atIndex = new int[cpu.Setup.StreamsOn(cpu.Id).Length];
    private readonly int[] _issued = new int[cpu.Setup.StreamsOn(cpu.Id).Length];

    public List<OpRecord> Completed { get; } = new();

    /// <summary>Tables this CPU's operations cleared and then reused or freed; recorded only when the run checks safety.</summary>
    public List<TableRetire> Retires { get; } = new();

    /// <summary>Whether an operation is in progress on this CPU.</summary>
    public bool InProgress => _op is not null;

    /// <summary>The operation in progress: every reply and step end belongs to it.</summary>
    public KernelOperation Current => _op ?? throw new InvalidOperationException($"CPU {cpu.Id}: no operation in progress");

    // ------------------------------------------------------------------ arrivals

    public void Start(ISimContext ctx)
    {
        for (var s = 0; s < _issued.Length; s++) ScheduleNextArrival(s, ctx, first: true);
    }

    private void ScheduleNextArrival(int stream, ISimContext ctx, bool first)
    {
        var spec = cpu.Setup.StreamsOn(cpu.Id)[stream];
        if (_issued[stream] == spec.Count) return;
        long at;
        if (spec.BackToBack)
        {
            at = Math.Max(ctx.Now, spec.StartNs);
        }
        else if (spec.Khugepaged is { } knobs)
        {
            at = first ? spec.StartNs : KhugepagedNextCollapse(knobs, _issued[stream], ctx.Now);
        }
        else if (spec.RatePerSecond is { } rate)
        {
            at = Math.Max(ctx.Now, spec.StartNs) + rng.NextExponentialNs(1e9 / rate);
        }
        else
        {
            var times = spec.AtNs.IsDefault ? [] : spec.AtNs;
            var i = _atIndex[stream];
            if (i >= times.Length) return;
            _atIndex[stream] = i + 1;
            at = Math.Max(times[i], ctx.Now);
        }
        if (at < cpu.Setup.DurationNs && (first || !spec.Sequential || at >= ctx.Now))
        {
            _issued[stream]++;
            OpArrived.Send(ctx, cpu.Id, at, stream);
        }
    }

    /// <summary>
    /// mm/khugepaged.c khugepaged(): the next collapse of a pass follows the last one at once;
    /// after <see cref="KhugepagedKnobs.RangesPerPass"/> of them, khugepaged_wait_work() sleeps
    /// scan_sleep_millisecs. A huge page that cannot be allocated (a pure function of seed, CPU and
    /// collapse) costs alloc_sleep_millisecs before the attempt is made again.
    /// </summary>
    private long KhugepagedNextCollapse(KhugepagedKnobs knobs, int issued, long now)
    {
        var at = issued % knobs.RangesPerPass == 0 ? now + knobs.ScanSleepNs : now;
        if (knobs.AllocFailProbability > 0
            && new Prng(cpu.Setup.Seed, (ulong)cpu.Id << 32 | (uint)issued, RandomStream.ThpAlloc).NextDouble() < knobs.AllocFailProbability)
            at += knobs.AllocSleepNs;
        return at;
    }

    /// <summary>An operation of stream Arg arrives; it starts now if none is in progress.</summary>
    public void OpArrival(in SimEvent e, ISimContext ctx)
    {
        var stream = new OpArrived(in e).Stream;
        if (!cpu.Setup.StreamsOn(cpu.Id)[stream].Sequential) ScheduleNextArrival(stream, ctx, first: false);
        _pending.Enqueue((stream, ctx.Now));
        if (_op is null) StartNext(ctx);
    }

    private void StartNext(ISimContext ctx)
    {
        if (!_pending.TryDequeue(out var next)) return;
        var setup = cpu.Setup;
        var spec = setup.StreamsOn(cpu.Id)[next.Stream];
        var op = _op = new KernelOperation(++_serial, next.Stream, spec, setup.RunsInKhugepaged(cpu.Id, next.Stream), next.Arrival, ctx.Now);
        if (cpu.Tracing is { } tracing && OpTraceSampling.Samples(tracing.SampleRatio, setup.Seed, cpu.Id, op.Serial)) op.Trace = TraceOf(op, tracing);
        if (setup.ChecksSafety) op.Interrupted = new CpuMask.Builder(cpu.Machine.CpuCount);
        cpu.ReconsiderIdle(ctx.Now);
        Continue(op, ctx);
    }

    private OpTraceBuilder TraceOf(KernelOperation op, IOpTraceSink tracing) =>
        new(tracing, cpu.Id, op.Serial, op.Spec.Type, op.Spec.Process, cpu.Setup.MmEntityId(op.Spec.Process), op.Arrival, op.Start);

    // ------------------------------------------------------------------ state

    public void WriteState(StateWriter w)
    {
        rng.WriteState(w);
        w.Long(_serial);
        w.Ints(_atIndex);
        w.Ints(_issued);
        w.Int(_pending.Count);
        foreach (var (stream, arrival) in _pending)
        {
            w.Int(stream);
            w.Long(arrival);
        }
        w.Items(Completed);
        w.Items(Retires);
        w.Bool(_op is not null);
        if (_op is { } op) WriteOperation(op, w);
    }

    public void ReadState(StateReader r)
    {
        rng.ReadState(r);
        _serial = r.Long();
        IntsInto(r, _atIndex);
        IntsInto(r, _issued);
        _pending.Clear();
        for (var count = r.Count("the pending arrivals"); count > 0; count--) _pending.Enqueue((Stream(r), r.Long()));
        r.ItemsInto(Completed);
        r.ItemsInto(Retires);
        _op = r.Bool() ? ReadOperation(r) : null;
    }

    private void IntsInto(StateReader r, int[] into)
    {
        var values = r.Ints();
        if (values.Length != into.Length) throw r.Invalid($"arrivals of {values.Length} operation streams where CPU {cpu.Id} has {into.Length}");
        values.CopyTo(into);
    }

    private int Stream(StateReader r)
    {
        var stream = r.Int();
        return (uint)stream < (uint)cpu.Setup.StreamsOn(cpu.Id).Length ? stream : throw r.Invalid($"operation stream {stream}, which CPU {cpu.Id} lacks");
    }

    /// <summary>The operation in progress: its stream names its spec, and its trace is rebuilt around what it holds.</summary>
    private static void WriteOperation(KernelOperation op, StateWriter w)
    {
        w.Long(op.Serial);
        w.Int(op.Stream);
        w.Long(op.Arrival);
        w.Long(op.Start);
        w.Int(op.Step);
        w.Enum(op.Phase);
        w.Bool(op.FreedTables);
        w.Bool(op.FullyUnshared);
        w.Bool(op.WasShared);
        w.Mask(op.FlushedMask);
        w.Bool(op.FullFlush);
        w.Bool(op.Synced);
        w.Int(op.FlushIpis);
        w.Int(op.SyncIpis);
        w.Int(op.Collateral);
        w.Enum(op.Mechanism);
        w.Long(op.FlushNs);
        w.String(op.SyncOutcome);
        w.Bool(op.WaitedGracePeriod);
        w.Mask(op.Interrupted);
        w.Long(op.Time.LoopNs);
        w.Long(op.Time.IpiSendNs);
        w.Long(op.Time.LocalFuncNs);
        w.Long(op.Time.WaitNs);
        w.Long(op.StolenAtStepStart);
        w.Bool(op.Trace is not null);
        op.Trace?.WriteState(w);
    }

    private KernelOperation ReadOperation(StateReader r)
    {
        var (serial, stream) = (r.Long(), Stream(r));
        var op = new KernelOperation(serial, stream, cpu.Setup.StreamsOn(cpu.Id)[stream], cpu.Setup.RunsInKhugepaged(cpu.Id, stream), r.Long(), r.Long())
        {
            Step = r.Int(),
            Phase = r.Enum<OpPhase>(),
            FreedTables = r.Bool(),
            FullyUnshared = r.Bool(),
            WasShared = r.Bool(),
            FlushedMask = r.Mask(),
            FullFlush = r.Bool(),
            Synced = r.Bool(),
            FlushIpis = r.Int(),
            SyncIpis = r.Int(),
            Collateral = r.Int(),
            Mechanism = r.Enum<TlbFlushMechanism>(),
            FlushNs = r.Long(),
            SyncOutcome = r.String(),
            WaitedGracePeriod = r.Bool(),
            Interrupted = r.MaskBuilder(cpu.Machine.CpuCount),
            Time = new InitiatorTime(r.Long(), r.Long(), r.Long(), r.Long()),
            StolenAtStepStart = r.Long(),
        };
        if (r.Bool())
        {
            op.Trace = TraceOf(op, cpu.Tracing ?? throw r.Invalid($"a traced operation on CPU {cpu.Id}, in a run that traces none"));
            op.Trace.ReadState(r);
        }
        return op;
    }

    // ------------------------------------------------------------------ steps

    /// <summary>The operation's kernel function, at its next step.</summary>
    public void Continue(KernelOperation op, ISimContext ctx)
    {
        switch (op.Spec.Type)
        {
            case OpType.CollapseHugePage: CollapseHugePage(op, ctx); break;
            case OpType.HugetlbUnshare: HugePmdUnshare(op, ctx); break;
            case OpType.FlushRange: FlushTlbRange(op, ctx); break;
            case OpType.MunmapFreeTables: FreePgtables(op, ctx); break;
            case OpType.RetractPageTables:
            case OpType.TryCollapsePteMappedThp: RetractPageTables(op, ctx); break;
            case OpType.SyncWithoutFlush: SyncWithoutFlush(op, ctx); break;
        }
    }

    /// <summary>
    /// mm/khugepaged.c collapse_huge_page(), from the PMD's clearing on: pmdp_collapse_flush()
    /// (flush_tlb_range() with freed_tables, as the PTE table is detached), then
    /// tlb_remove_table_sync_one() so that no GUP-fast walker still reads the old table, then the
    /// table is deposited again (pgtable_trans_huge_deposit()) and reused.
    /// </summary>
    private void CollapseHugePage(KernelOperation op, ISimContext ctx)
    {
        switch (op.Step++)
        {
            case 0:
                PmdpCollapseFlush(op, ctx);
                return;
            case 1:
                cpu.Gather.TlbRemoveTableSyncOne(op, ctx);
                return;
            default:
                Retire(op, RetireHazard.IrqOffWalkers, rcuDeferred: false, ctx);
                Finish(op, ctx);
                return;
        }
    }

    /// <summary>
    /// mm/hugetlb.c huge_pmd_unshare() under __unmap_hugepage_range(): drop this process's
    /// reference to the shared PMD table (the share count lives with the owner's mm), then
    /// tlb_flush_unshared_tables(): tlb_flush_mmu_tlbonly() with unshared_tables set (upstream
    /// passes tlb->freed_tables, false here; the series passes wake_lazy_cpus), then the sync:
    /// since David Hildenbrand's fix only when the table is fully unshared, every time before it.
    /// The remaining owner may reuse the table once the last sharer has left: that is when a
    /// walker of any sharer, begun before its own process dropped the table, must be gone.
    /// </summary>
    private void HugePmdUnshare(KernelOperation op, ISimContext ctx)
    {
        var setup = cpu.Setup;
        switch (op.Step++)
        {
            case 0:
                var owner = setup.HugetlbOwnerOf(op.Spec.Process);
                if (owner < 0)
                {
                    Finish(op, ctx);
                    return;
                }
                op.Phase = OpPhase.PmdUnshare;
                op.Trace?.BeginStep(StepKind.TlbUnsharePmdPtdesc, ctx.Now);
                MmRequest.Send(ctx, setup.MmEntityId(owner), ctx.Now + cpu.Costs.MmContextAccessNs, EventKind.MmPmdUnshare, op.Serial, sharer: op.Spec.Process);
                return;
            case 1:
                op.Trace?.Outcome(!op.WasShared ? "not shared" : op.FullyUnshared ? "last sharer left: the table is private again" : "still shared");
                op.Trace?.EndStep(ctx.Now);
                if (!op.WasShared)
                {
                    Finish(op, ctx);
                    return;
                }
                op.FreedTables = setup.Policy.TlbFlushWakesLazyCpusForUnsharedTables;
                cpu.Flush.FlushTlbMmRange(op, ctx);
                return;
            case 2:
                if (op.FullyUnshared || setup.Policy.HugetlbSyncEveryUnshare) cpu.Gather.TlbRemoveTableSyncOne(op, ctx);
                else Continue(op, ctx);
                return;
            default:
                Retire(op, RetireHazard.IrqOffWalkers, rcuDeferred: false, ctx, setup.HugetlbOwnerOf(op.Spec.Process), freesTable: op.FullyUnshared);
                Finish(op, ctx);
                return;
        }
    }

    /// <summary>The owner mm answered huge_pmd_unshare().</summary>
    public void PmdUnshared(in SimEvent e, ISimContext ctx)
    {
        var answer = new PmdUnshared(in e);
        var op = Current;
        op.WasShared = answer.WasShared;
        op.FullyUnshared = answer.FullyUnshared;
        Continue(op, ctx);
    }

    /// <summary>
    /// pmdp_collapse_flush(): the PMD is cleared and its PTE table detached, so the range's
    /// flush_tlb_range() runs with freed_tables (it must reach lazy CPUs too).
    /// </summary>
    private void PmdpCollapseFlush(KernelOperation op, ISimContext ctx)
    {
        op.FreedTables = true;
        cpu.Flush.FlushTlbMmRange(op, ctx);
    }

    /// <summary>flush_tlb_range() of a range whose page tables stay: no sync follows.</summary>
    private void FlushTlbRange(KernelOperation op, ISimContext ctx)
    {
        if (op.Step++ == 0)
        {
            op.FreedTables = false;
            cpu.Flush.FlushTlbMmRange(op, ctx);
            return;
        }
        Finish(op, ctx);
    }

    /// <summary>
    /// munmap's free_pgtables() under an mmu_gather: the gather freed a page table, so
    /// tlb_flush() passes freed_tables; then tlb_remove_table() decides the table's fate
    /// (<see cref="MmuGather.TlbRemoveTable"/>), and a table freed after a sync is freed now.
    /// </summary>
    private void FreePgtables(KernelOperation op, ISimContext ctx)
    {
        switch (op.Step++)
        {
            case 0:
                op.FreedTables = true;
                cpu.Flush.FlushTlbMmRange(op, ctx);
                return;
            case 1:
                cpu.Gather.TlbRemoveTable(op, ctx);
                return;
            default:
                // __tlb_remove_table(): freed now. synchronize_rcu() waited for every reader that
                // began before it, IRQ-off walkers included.
                Retire(op, RetireHazard.AllWalkers, rcuDeferred: op.WaitedGracePeriod, ctx);
                Finish(op, ctx);
                return;
        }
    }

    /// <summary>
    /// mm/khugepaged.c retract_page_tables() and collapse_pte_mapped_thp(): pmdp_collapse_flush(),
    /// then pmdp_get_lockless_sync() (the sync only under CONFIG_GUP_GET_PXX_LOW_HIGH, an empty
    /// inline elsewhere), then pte_free_defer(): an RCU-deferred free.
    /// </summary>
    private void RetractPageTables(KernelOperation op, ISimContext ctx)
    {
        switch (op.Step++)
        {
            case 0:
                PmdpCollapseFlush(op, ctx);
                return;
            case 1:
                if (cpu.Setup.Policy.GupGetPxxLowHigh)
                {
                    cpu.Gather.TlbRemoveTableSyncOne(op, ctx);
                    return;
                }
                op.SyncOutcome = "pmdp_get_lockless_sync() is an empty inline without CONFIG_GUP_GET_PXX_LOW_HIGH";
                Continue(op, ctx);
                return;
            default:
                Retire(op, RetireHazard.PaeReaders, rcuDeferred: false, ctx);
                Retire(op, RetireHazard.AllWalkers, rcuDeferred: true, ctx);
                Finish(op, ctx);
                return;
        }
    }

    /// <summary>A bare tlb_remove_table_sync_one(), as a caller that flushed nothing makes it; the table is reused after.</summary>
    private void SyncWithoutFlush(KernelOperation op, ISimContext ctx)
    {
        if (op.Step++ == 0)
        {
            cpu.Gather.TlbRemoveTableSyncOne(op, ctx);
            return;
        }
        Retire(op, RetireHazard.IrqOffWalkers, rcuDeferred: false, ctx);
        Finish(op, ctx);
    }

    // ------------------------------------------------------------------ waits

    /// <summary>
    /// A step's wait is over. Interrupts this CPU took meanwhile stole time from it, so the step
    /// ends that much later; then the operation moves on.
    /// </summary>
    public void OpStepDone(in SimEvent e, ISimContext ctx)
    {
        var op = Current;
        var step = new StepDone(in e);
        // A step-done left over from before the call in flight (its wait was cut short by the call's own).
        if (cpu.Smp.InFlight is { } call && step.Call != call.Serial) return;
        var stats = cpu.Stats;
        var stolen = stats.StolenNs - op.StolenAtStepStart;
        if (stolen > 0)
        {
            op.StolenAtStepStart = stats.StolenNs;
            StepDone.Send(ctx, cpu.Id, Math.Max(ctx.Now + stolen, cpu.Irqs.HandlerBusyUntil), step.Call);
            return;
        }
        if (cpu.Smp.InFlight is { } done)
        {
            if (op.Phase == OpPhase.Flush) op.FlushIpis = done.Queued;
            else if (op.Phase == OpPhase.Sync) CountSyncTargets(op, done);
            op.Time += done.Time;
            cpu.Smp.ReleaseInFlight();
        }
        op.Trace?.EndStep(ctx.Now);
        Continue(op, ctx);
    }

    /// <summary>The sync's IPIs: the csds queued, and those that went to CPUs outside the mm_cpumask the flush read.</summary>
    private static void CountSyncTargets(KernelOperation op, SmpCallFunction.Call call)
    {
        op.SyncIpis = call.Queued;
        var mask = op.FlushedMask;
        var collateral = 0;
        for (var j = 0; j < call.Count; j++)
        {
            var c = call.Targets[j];
            if (!call.Declined(c) && (mask is null || !mask.Test(c))) collateral++;
        }
        op.Collateral = collateral;
    }

    /// <summary>
    /// Records that the table this operation cleared at its start is reused or freed now; for a
    /// hugetlb sharer that leaves a table others still share, that it was cleared here
    /// (<paramref name="freesTable"/> false) and is reused when the last sharer of <paramref name="share"/> leaves.
    /// </summary>
    public void Retire(KernelOperation op, RetireHazard hazard, bool rcuDeferred, ISimContext ctx, int share = -1, bool freesTable = true)
    {
        if (op.Interrupted is null) return;
        Retires.Add(new TableRetire(cpu.Id, op.Serial, op.Spec.Type, op.Spec.Process, op.Start, ctx.Now, hazard, rcuDeferred,
            op.Mechanism, op.FlushNs, op.FlushedMask, op.Interrupted.ToMask(), op.SyncOutcome, share, freesTable));
    }

    public void Finish(KernelOperation op, ISimContext ctx)
    {
        Completed.Add(new OpRecord(cpu.Id, op.Serial, op.Spec.Type, op.Spec.Process, op.Arrival, op.Start, ctx.Now,
            op.FlushIpis, op.SyncIpis, op.Collateral, op.FullFlush, op.Synced) { Time = op.Time });
        op.Trace?.Finish(ctx.Now);
        _op = null;
        if (op.Spec.Sequential) ScheduleNextArrival(op.Stream, ctx, first: false);
        StartNext(ctx);
        cpu.ReconsiderIdle(ctx.Now);
    }
}
