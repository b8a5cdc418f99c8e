using System.Collections.Immutable;
using Shootdown.Model.Simulation;
using Shootdown.Model.Topology;
using Shootdown.Model.Tracing;

namespace Shootdown.Model.Kernel;

/// <summary>
/// The initiator's side of a TLB flush: arch/x86/mm/tlb.c <c>flush_tlb_mm_range()</c> (and
/// arm64's and RISC-V's <c>flush_tlb_range()</c>), which reads the mm and then reaches the other
/// CPUs through the machine's <see cref="FlushBackend"/>, chosen at boot.
/// </summary>
public sealed class TlbFlush(Cpu cpu)
{
    private readonly FlushBackend _backend = FlushBackend.AtBoot(cpu.Setup.Features);

    /// <summary>flush_tlb_mm_range(), first half: inc_mm_tlb_gen() and the read of mm_cpumask (<see cref="FlushMaskRead"/>).</summary>
    public void FlushTlbMmRange(KernelOperation op, ISimContext ctx)
    {
        op.Phase = OpPhase.FlushBegin;
        op.Trace?.BeginStep(StepKind.FlushTlbMmRange, ctx.Now);
        MmRequest.Send(ctx, cpu.Setup.MmEntityId(op.Spec.Process), ctx.Now + cpu.Costs.MmContextAccessNs, EventKind.MmFlushBegin, op.Serial);
    }

    /// <summary>
    /// flush_tlb_mm_range(), second half, once the mm has answered. Above the architecture's
    /// threshold (<see cref="FlushBackend.FlushesWhole"/>) the range becomes a full flush. Then the backend flushes.
    /// </summary>
    public void FlushMaskRead(in SimEvent e, ISimContext ctx)
    {
        var read = new FlushMaskRead(in e);
        var op = cpu.Ops.Current;
        var mask = ctx.AttachedMask(e);
        if (op.Spec.FlushTargets is { } replayed) mask = ReplayedFlushMask(replayed);
        op.FlushedMask = mask;
        op.FullFlush = _backend.FlushesWhole(op.Spec.Pages, cpu.Costs);
        op.Phase = OpPhase.Flush;
        op.FlushNs = ctx.Now;
        op.StolenAtStepStart = cpu.Stats.StolenNs;
        var info = new FlushTlbInfo(cpu.Setup.MmEntityId(op.Spec.Process), op.Spec.Pages, read.NewTlbGen, op.FullFlush, read.TrimCpumask);
        _backend.FlushTlbMmRange(new FlushRequest(cpu, op, info, mask, read.GlobalAsid && !read.AsidTransition, read.AsidTransition), ctx);
    }

    /// <summary>A replayed flush's mask: the captured csd targets, and this CPU (which flushes itself if the mm is loaded here).</summary>
    private CpuMask ReplayedFlushMask(ImmutableArray<int> targets)
    {
        var mask = new CpuMask.Builder(cpu.Machine.CpuCount);
        mask.Set(cpu.Id);
        foreach (var c in targets) mask.Set(c);
        return mask.ToMask();
    }
}

/// <summary>One flush, as the backend sees it: who flushes, for which operation, what, and to which CPUs.</summary>
/// <param name="Invlpgb">The mm has a global ASID and no transition is in progress: broadcast_tlb_flush() can flush it.</param>
/// <param name="AsidTransition">mm_in_asid_transition(): some CPUs may still run the mm on a per-CPU ASID.</param>
public readonly record struct FlushRequest(Cpu Cpu, KernelOperation Op, FlushTlbInfo Info, CpuMask Mask, bool Invlpgb, bool AsidTransition)
{
    /// <summary>
    /// A flush that sends no IPI: done after its own cost, plus flush_tlb_func() here if the mm is
    /// loaded (the local flush runs with IRQs off), when <paramref name="flushLocal"/>.
    /// </summary>
    public void DoneAfter(long cost, ISimContext ctx, bool flushLocal)
    {
        var done = ctx.Now + cost;
        if (flushLocal && Cpu.Tlb.LoadedMm == Info.Mm)
        {
            done += Cpu.Tlb.FlushTlbFunc(Info, Info.NewTlbGen, local: true, done, ctx);
            Cpu.Irqs.LocalFlushUntil = done;
        }
        StepDone.Send(ctx, Cpu.Id, done);
    }

    public void Outcome(string outcome) => Op.Trace?.Outcome(outcome, Op.Spec.Pages, Op.FullFlush, Op.FreedTables);
}
