namespace Shootdown.Model.Kernel;

/// <summary>The architecture, as far as TLB invalidation is concerned.</summary>
public enum Arch
{
    X86,
    /// <summary>TLB invalidation by broadcast <c>TLBI …IS</c> + <c>DSB ISH</c>: no IPIs (docs/model.md, the kernel facts).</summary>
    Arm64,
    /// <summary><c>__flush_tlb_range()</c>: an SBI remote fence or IPIs, by platform (docs/model.md, the kernel facts).</summary>
    RiscV,
}

/// <summary>Which <c>pv_ops.mmu.flush_tlb_multi</c> an x86 machine boots with.</summary>
public enum FlushTlbMultiBackend
{
    /// <summary><c>native_flush_tlb_multi()</c>: IPIs to the CPUs in the mask.</summary>
    Native,
    /// <summary>
    /// arch/x86/kernel/kvm.c <c>kvm_flush_tlb_multi()</c>: vCPUs whose steal-time record says
    /// preempted are dropped from the mask (the host flushes them on their next entry); the rest
    /// get native IPIs.
    /// </summary>
    KvmPv,
    /// <summary>arch/x86/hyperv/mmu.c <c>hyperv_flush_tlb_multi()</c>: a flush hypercall, no guest IPIs.</summary>
    HyperV,
    /// <summary><c>xen_flush_tlb_multi()</c>: a flush hypercall, no guest IPIs.</summary>
    Xen,
}

/// <summary>How a RISC-V platform reaches other harts in <c>__flush_tlb_range()</c>.</summary>
public enum RiscVRemoteFence
{
    /// <summary><c>riscv_use_sbi_for_rfence()</c>: <c>sbi_remote_sfence_vma_asid()</c>, a firmware call; no Linux IPI handler runs.</summary>
    Sbi,
    /// <summary><c>on_each_cpu_mask(cmask, __ipi_flush_tlb_range_mm, …, 1)</c>: Linux IPIs to the mm's CPUs.</summary>
    Ipi,
}

/// <summary>What the simulated hardware and hypervisor provide. Fixed at boot.</summary>
public sealed record MachineFeatures
{
    public Arch Arch { get; init; } = Arch.X86;

    /// <summary>x86 only: the pv_ops flush.</summary>
    public FlushTlbMultiBackend FlushTlbMulti { get; init; } = FlushTlbMultiBackend.Native;

    /// <summary>x86 only: X86_FEATURE_INVLPGB (AMD). An mm active on 4 or more CPUs may get a global ASID.</summary>
    public bool Invlpgb { get; init; }

    /// <summary>
    /// consider_global_asid() only looks when <c>(current->pid &amp; 0x1f) == (jiffies &amp; 0x1f)</c>.
    /// False models a kernel that looks at every flush: short runs then see the steady state.
    /// </summary>
    public bool GlobalAsidSampling { get; init; } = true;

    /// <summary>RISC-V only: SBI remote fence or IPIs.</summary>
    public RiscVRemoteFence RiscVRemoteFence { get; init; } = RiscVRemoteFence.Sbi;

    /// <summary>
    /// KVM guests (flush: kvm): KVM_FEATURE_PV_SEND_IPI, so call-function IPIs go out as
    /// KVM_HC_SEND_IPI hypercalls (arch/x86/kernel/kvm.c kvm_send_ipi_mask()) instead of ICR
    /// writes that each exit to the host.
    /// </summary>
    public bool KvmPvSendIpi { get; init; } = true;

    /// <summary>
    /// KVM guests: KVM_HINTS_REALTIME, the host's promise of dedicated pCPUs. The guest then uses
    /// native_flush_tlb_multi() (pv_tlb_flush_supported() is false) and no KVM_HC_SCHED_YIELD.
    /// </summary>
    public bool KvmHintsRealtime { get; init; }

    /// <summary>Whether this is a KVM guest (its IPIs and idle go through the host).</summary>
    public bool KvmGuest => Arch == Arch.X86 && FlushTlbMulti == FlushTlbMultiBackend.KvmPv;

    /// <summary>
    /// pv_ops.mmu.flush_tlb_multi is native_flush_tlb_multi() after boot: on bare metal, and in a
    /// KVM guest with KVM_HINTS_REALTIME (pv_tlb_flush_supported() is false, so kvm_guest_init()
    /// leaves it alone). What native_pv_tlb_init() compares against.
    /// </summary>
    public bool NativeFlushTlbMulti => Arch == Arch.X86 && (FlushTlbMulti == FlushTlbMultiBackend.Native || KvmGuest && KvmHintsRealtime);

    /// <summary>kvm_flush_tlb_multi() (pv_tlb_flush_supported()): a KVM guest without KVM_HINTS_REALTIME.</summary>
    public bool KvmPvFlush => KvmGuest && !KvmHintsRealtime;

    /// <summary>pv_sched_yield_supported(): the sender yields its pCPU to a preempted target (kvm_smp_send_call_func_ipi()).</summary>
    public bool KvmPvSchedYield => KvmGuest && !KvmHintsRealtime;

    /// <summary>The idle states an idle CPU sleeps in (<see cref="CpuIdle"/>). Scenarios default by platform (docs/model.md).</summary>
    public CpuidleDriver Cpuidle { get; init; } = CpuidleDriver.Off;

    /// <summary>The PM QoS CPU latency limit (cpu_latency_qos, /dev/cpu_dma_latency): no state with a longer exit latency is entered.</summary>
    public long? CpuidleLatencyLimitNs { get; init; }

    public static MachineFeatures NativeX86 { get; } = new();

    /// <summary>Validates that options belong to the architecture they apply to.</summary>
    public string? Inconsistency() =>
        Arch != Arch.X86 && (Invlpgb || FlushTlbMulti != FlushTlbMultiBackend.Native) ? "INVLPGB and the pv flush backends are x86 options"
        : !KvmGuest && (KvmHintsRealtime || !KvmPvSendIpi) ? "kvm_hints_realtime and kvm_pv_send_ipi apply to flush: kvm (a KVM guest) only"
        : null;
}
