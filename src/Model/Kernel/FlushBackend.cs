using Shootdown.Model.Simulation;
using Shootdown.Model.Tracing;
using Shootdown.Model.Safety;

namespace Shootdown.Model.Kernel;

/// <summary>
/// How a machine's kernel reaches other CPUs' TLBs, chosen once at boot as <c>pv_ops.mmu.flush_tlb_multi</c>
/// is: native IPIs, KVM's paravirtual flush, a Hyper-V or Xen hypercall; or, off x86, arm64's
/// broadcast TLBI and RISC-V's SBI remote fence or IPIs. x86's flush_tlb_mm_range() is the
/// template: INVLPGB for an mm with a global ASID, flush_tlb_multi() when another CPU is in the
/// mask, else a local flush.
/// </summary>
public abstract class FlushBackend
{
    /// <summary>arch/riscv/mm/tlbflush.c tlb_flush_all_threshold (64): above it, a range flush flushes the whole ASID.</summary>
    private static bool RiscVFlushesWhole(int pages) => pages > 64;

    public static FlushBackend AtBoot(MachineFeatures features) => features.Arch switch
    {
        Arch.Arm64 => new Arm64TlbiBroadcast(),
        Arch.RiscV when features.RiscVRemoteFence == RiscVRemoteFence.Sbi => new RiscVSbiRemoteFence(),
        Arch.RiscV => new NativeIpis(riscV: true),
        _ => features.FlushTlbMulti switch
        {
            // With KVM_HINTS_REALTIME pv_tlb_flush_supported() is false: the guest flushes natively (below).
            FlushTlbMultiBackend.KvmPv when features.KvmPvFlush => new KvmPvFlush(),
            FlushTlbMultiBackend.HyperV => new FlushHypercall("hyperv"),
            FlushTlbMultiBackend.Xen => new FlushHypercall("xen"),
            _ => new NativeIpis(riscV: false),
        },
    };

    /// <summary>
    /// Whether a range of <paramref name="pages"/> is flushed whole: x86 above
    /// tlb_single_page_flush_ceiling (arch/x86/mm/tlb.c); arm64 and RISC-V override it.
    /// </summary>
    public virtual bool FlushesWhole(int pages, Costs.CostModel costs) => pages > costs.TlbSinglePageFlushCeiling;

    /// <summary>arch/x86/mm/tlb.c flush_tlb_mm_range(), from its read of the mm on.</summary>
    public virtual void FlushTlbMmRange(in FlushRequest r, ISimContext ctx)
    {
        var op = r.Op;
        if (r.Invlpgb)
        {
            // broadcast_tlb_flush(): one INVLPGB per invlpgb_count_max pages (or once for the PCID), then TLBSYNC.
            op.Mechanism = TlbFlushMechanism.Invlpgb;
            r.Outcome("broadcast_tlb_flush: INVLPGB + TLBSYNC, no IPIs");
            var costs = r.Cpu.Costs;
            var invlpgbs = (op.Spec.Pages + costs.InvlpgbCountMax - 1) / costs.InvlpgbCountMax;
            r.DoneAfter((op.FullFlush ? costs.InvlpgbFullNs : invlpgbs * costs.InvlpgbNs) + costs.TlbsyncNs, ctx, flushLocal: false);
            return;
        }
        if (r.Mask.AnyBut(r.Cpu.Id))
        {
            FlushTlbMulti(r, ctx);
            return;
        }
        op.Mechanism = TlbFlushMechanism.LocalOnly;
        r.Outcome(r.Cpu.Tlb.LoadedMm == r.Info.Mm ? "local flush only" : "no flush: not loaded here, no other CPU in mm_cpumask");
        r.DoneAfter(0, ctx, flushLocal: true);
    }

    /// <summary>flush_tlb_multi(mm_cpumask(mm), info): reach every other CPU of the mask.</summary>
    protected abstract void FlushTlbMulti(in FlushRequest r, ISimContext ctx);

    /// <summary>
    /// native_flush_tlb_multi(): IPIs through smp_call_function_many_cond(), to all of the mask
    /// when freed_tables (wake_lazy_cpus) is set, else only to the CPUs should_flush_tlb()
    /// accepts; the local flush_tlb_func() runs as SCF_RUN_LOCAL. RISC-V's IPI path is
    /// on_each_cpu_mask(): unconditional, like freed_tables on x86.
    /// </summary>
    private class NativeIpis(bool riscV) : FlushBackend
    {
        public override bool FlushesWhole(int pages, Costs.CostModel costs) => riscV ? RiscVFlushesWhole(pages) : base.FlushesWhole(pages, costs);

        protected override void FlushTlbMulti(in FlushRequest r, ISimContext ctx) => SendIpis(r, skipsPreempted: false, ctx);

        /// <param name="skipsPreempted">KVM: vCPUs whose steal-time record says preempted are left to the host.</param>
        protected void SendIpis(in FlushRequest r, bool skipsPreempted, ISimContext ctx)
        {
            var cpu = r.Cpu;
            var op = r.Op;
            op.Mechanism = TlbFlushMechanism.Ipi;
            // on_each_cpu_mask() for freed tables (lazy CPUs must not walk them speculatively) and
            // during an ASID transition; else on_each_cpu_cond_mask(should_flush_tlb).
            var conditional = !riscV && !op.FreedTables && !r.AsidTransition && op.Spec.FlushTargets is null;
            var csd = new Csd(CsdFunc.FlushTlbFunc, conditional ? CsdCond.ShouldFlushTlb : CsdCond.None, r.Info, op.InKhugepaged);
            var runLocal = r.Mask.Test(cpu.Id) && (!conditional || cpu.Tlb.ShouldFlushTlb(r.Info));
            var targets = SmpCallFunction.RentTargets(r.Mask.NrCpus);
            var count = 0;
            var dropped = 0;
            var preemption = cpu.Setup.Preemption;
            foreach (var c in r.Mask.Cpus())
            {
                if (c == cpu.Id) continue;
                if (skipsPreempted && preemption.IsPreempted(c, ctx.Now))
                {
                    dropped++;
                    continue;
                }
                targets[count++] = c;
            }
            r.Outcome(skipsPreempted ? $"kvm_flush_tlb_multi: {dropped} preempted vCPU(s) left to the host, native_flush_tlb_multi on the rest" : "native_flush_tlb_multi");
            cpu.Tracer.TlbFlush(ctx.Now, op.Spec.Process, CpuTrace.TracedPages(op.Spec.Pages, op.FullFlush), TlbFlushReason.RemoteSendIpi);
            var start = ctx.Now;
            if (runLocal && cpu.Setup.Policy.FlushLocalBeforeRemote)
            {
                // Before the concurrent-flush series: flush_tlb_func_local() with IRQs off, then flush_tlb_others().
                start += cpu.Tlb.FlushTlbFunc(r.Info, r.Info.NewTlbGen, local: true, start, ctx);
                cpu.Irqs.LocalFlushUntil = start;
                runLocal = false;
            }
            cpu.Smp.SmpCallFunctionManyCond(targets, count, csd, runLocal, start, op.Trace, op.Interrupted, ctx);
        }
    }

    /// <summary>
    /// arch/x86/kernel/kvm.c kvm_flush_tlb_multi(): first drops every vCPU whose steal-time record
    /// says preempted (the host flushes it before its next entry), then native_flush_tlb_multi() on the rest.
    /// </summary>
    private sealed class KvmPvFlush() : NativeIpis(riscV: false)
    {
        protected override void FlushTlbMulti(in FlushRequest r, ISimContext ctx) => SendIpis(r, skipsPreempted: true, ctx);
    }

    /// <summary>hyperv_flush_tlb_multi() and xen_flush_tlb_multi(): one flush hypercall, no guest IPIs.</summary>
    private sealed class FlushHypercall(string hypervisor) : FlushBackend
    {
        protected override void FlushTlbMulti(in FlushRequest r, ISimContext ctx)
        {
            r.Op.Mechanism = TlbFlushMechanism.Hypercall;
            r.Outcome($"{hypervisor}_flush_tlb_multi: flush hypercall, no guest IPIs");
            r.DoneAfter(r.Cpu.Costs.HypercallFlushNs, ctx, flushLocal: false);
        }
    }

    /// <summary>arch/riscv/mm/tlbflush.c: sbi_remote_sfence_vma_asid(), no Linux IPIs.</summary>
    private sealed class RiscVSbiRemoteFence : FlushBackend
    {
        public override bool FlushesWhole(int pages, Costs.CostModel costs) => RiscVFlushesWhole(pages);

        protected override void FlushTlbMulti(in FlushRequest r, ISimContext ctx)
        {
            r.Op.Mechanism = TlbFlushMechanism.SbiRemoteFence;
            r.Outcome("riscv: sbi_remote_sfence_vma_asid(), no Linux IPIs");
            r.DoneAfter(r.Cpu.Costs.SbiRemoteFenceNs, ctx, flushLocal: true);
        }
    }

    /// <summary>
    /// arch/arm64/include/asm/tlbflush.h __flush_tlb_range(): no IPI path at all, TLBI VALE1IS per
    /// page (ASIDE1IS for the whole ASID), then DSB ISH.
    /// </summary>
    private sealed class Arm64TlbiBroadcast : FlushBackend
    {
        /// <summary>MAX_DVM_OPS (PTRS_PER_PTE: 512 with 4K pages): from it on, without FEAT_TLBIRANGE, __flush_tlb_range() flushes the whole ASID.</summary>
        private const int MaxDvmOps = 512;

        public override bool FlushesWhole(int pages, Costs.CostModel costs) => pages >= MaxDvmOps;

        public override void FlushTlbMmRange(in FlushRequest r, ISimContext ctx)
        {
            var op = r.Op;
            op.Mechanism = TlbFlushMechanism.TlbiBroadcast;
            r.Outcome("arm64: TLBI …IS broadcast + DSB ISH, no IPIs");
            var costs = r.Cpu.Costs;
            r.DoneAfter((op.FullFlush ? 1 : op.Spec.Pages) * costs.TlbiPerPageNs + costs.DsbIshNs, ctx, flushLocal: false);
        }

        protected override void FlushTlbMulti(in FlushRequest r, ISimContext ctx) =>
            throw new InvalidOperationException("arm64 flushes by TLBI broadcast; it has no flush_tlb_multi()");
    }
}
