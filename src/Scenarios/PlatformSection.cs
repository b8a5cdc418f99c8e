using Shootdown.Model.Kernel;

namespace Shootdown.Scenarios;

/// <summary>
/// The scenario's <c>platform</c>: what the hardware and hypervisor give the kernel (docs/model.md,
/// the kernel facts). <c>arch</c> is x86 (default), arm64 or riscv; on x86, <c>flush</c> names the
/// pv_ops backend (native, kvm, hyperv, xen) and <c>invlpgb</c> the AMD feature; on RISC-V,
/// <c>riscv_remote_fence</c> is sbi or ipi. <c>cpuidle</c> names the idle-state table
/// (<see cref="CpuidleDriver"/>) and <c>cpuidle_latency_limit_us</c> the PM QoS limit.
/// </summary>
internal static class PlatformSection
{
    public static readonly string[] Fields =
        ["arch", "flush", "invlpgb", "global_asid_sampling", "riscv_remote_fence", "kvm_pv_send_ipi", "kvm_hints_realtime", "cpuidle", "cpuidle_latency_limit_us"];

    public static MachineFeatures Parse(YamlReader root)
    {
        var p = root.Mapping("platform");
        if (p is null) return MachineFeatures.NativeX86 with { Cpuidle = DefaultCpuidle(MachineFeatures.NativeX86) };
        p.RejectUnknownKeys(Fields);
        var features = new MachineFeatures
        {
            Arch = p.Choice("arch", Arch.X86, "value", ("x86", Arch.X86), ("arm64", Arch.Arm64), ("riscv", Arch.RiscV)),
            FlushTlbMulti = p.Choice("flush", FlushTlbMultiBackend.Native, "value", ("native", FlushTlbMultiBackend.Native), ("kvm", FlushTlbMultiBackend.KvmPv),
                ("hyperv", FlushTlbMultiBackend.HyperV), ("xen", FlushTlbMultiBackend.Xen)),
            Invlpgb = p.Boolean("invlpgb") ?? false,
            GlobalAsidSampling = p.Boolean("global_asid_sampling") ?? true,
            RiscVRemoteFence = p.Choice("riscv_remote_fence", RiscVRemoteFence.Sbi, "value", ("sbi", RiscVRemoteFence.Sbi), ("ipi", RiscVRemoteFence.Ipi)),
            KvmPvSendIpi = p.Boolean("kvm_pv_send_ipi") ?? true,
            KvmHintsRealtime = p.Boolean("kvm_hints_realtime") ?? false,
        };
        if (features.Inconsistency() is { } problem)
            throw p.Error(p.Has("invlpgb") ? "invlpgb" : p.Has("kvm_hints_realtime") ? "kvm_hints_realtime" : p.Has("kvm_pv_send_ipi") ? "kvm_pv_send_ipi" : "flush", problem);
        features = features with
        {
            Cpuidle = p.Choice("cpuidle", DefaultCpuidle(features), "cpuidle table", [.. CpuidleDriver.All.Select(d => (d.Name, d))]),
            CpuidleLatencyLimitNs = p.Number("cpuidle_latency_limit_us", 0, 1_000_000) is { } us ? (long)Math.Round(us * 1000) : null,
        };
        if (features.Arch != Arch.RiscV && p.Has("riscv_remote_fence")) throw p.Error("riscv_remote_fence", "applies to arch: riscv only");
        return features;
    }

    /// <summary>
    /// The idle states a scenario gets unless it names them: intel_idle's Sapphire Rapids table on
    /// native x86, HLT-like WFI on arm64 and RISC-V; in a KVM guest cpuidle-haltpoll with
    /// KVM_HINTS_REALTIME (the only hint it loads under), else default_idle()'s HLT, the guest
    /// that has PV flush and PV yield; none in a Hyper-V or Xen guest (docs/model.md: not modelled).
    /// </summary>
    private static CpuidleDriver DefaultCpuidle(MachineFeatures f) =>
        f.Arch != Arch.X86 ? CpuidleDriver.Halt
        : f.KvmGuest ? (f.KvmHintsRealtime ? CpuidleDriver.KvmHaltpoll : CpuidleDriver.KvmHalt)
        : f.FlushTlbMulti != FlushTlbMultiBackend.Native ? CpuidleDriver.Off
        : CpuidleDriver.IntelSpr;
}

/// <summary>
/// The scenario's <c>kernel_config</c>: build switches applied to every policy the scenario runs
/// (docs/model.md, the kernel facts). A switch not given keeps the policy's own value.
/// </summary>
internal static class KernelConfigSection
{
    public static readonly string[] Fields =
        ["mmu_gather_rcu_table_free", "pt_reclaim", "gup_get_pxx_low_high", "remove_table_one_fallback", "hugetlb_sync_every_unshare", "flush_local_before_remote"];

    public static KernelPolicy Apply(YamlReader root, KernelPolicy policy)
    {
        var c = root.Mapping("kernel_config");
        if (c is null) return policy;
        c.RejectUnknownKeys(Fields);
        return policy with
        {
            MmuGatherRcuTableFree = c.Boolean("mmu_gather_rcu_table_free") ?? policy.MmuGatherRcuTableFree,
            PtReclaim = c.Boolean("pt_reclaim") ?? policy.PtReclaim,
            GupGetPxxLowHigh = c.Boolean("gup_get_pxx_low_high") ?? policy.GupGetPxxLowHigh,
            HugetlbSyncEveryUnshare = c.Boolean("hugetlb_sync_every_unshare") ?? policy.HugetlbSyncEveryUnshare,
            FlushLocalBeforeRemote = c.Boolean("flush_local_before_remote") ?? policy.FlushLocalBeforeRemote,
            RemoveTableOneFallback = c.Choice("remove_table_one_fallback", policy.RemoveTableOneFallback, "value",
                ("sync_rcu", RemoveTableOneFallback.SyncRcu), ("sync_one", RemoveTableOneFallback.SyncOne)),
        };
    }
}
