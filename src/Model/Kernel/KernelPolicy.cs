namespace Shootdown.Model.Kernel;

/// <summary>Which <c>pv_ops.mmu.flush_tlb_multi</c> the machine boots with.</summary>
public enum FlushTlbMultiBackend
{
    /// <summary><c>native_flush_tlb_multi()</c>: IPIs to the CPUs in the mask.</summary>
    Native,
}

/// <summary>What the simulated hardware and hypervisor provide. Fixed at boot.</summary>
public sealed record MachineFeatures(FlushTlbMultiBackend FlushTlbMulti = FlushTlbMultiBackend.Native, bool Invlpgb = false)
{
    public static MachineFeatures NativeX86 { get; } = new();
}

/// <summary>
/// A kernel build, as data: each field is one decision the series under study (or a later
/// policy) changes. The engines and the model branch on these fields only, never on a policy's name.
/// </summary>
public sealed record KernelPolicy
{
    public required string Name { get; init; }

    /// <summary>CONFIG_MMU_GATHER_RCU_TABLE_FREE. With it off, tlb_remove_table_sync_one() is an empty inline.</summary>
    public bool MmuGatherRcuTableFree { get; init; } = true;

    /// <summary>
    /// Patch 1/2 of the series: tlb_remove_table_sync_one() returns early when
    /// tlb_table_flush_implies_ipi_broadcast(). Patch 2/2 makes that true on x86 when the
    /// static key was enabled at boot (see <see cref="TlbTableFlushImpliesIpiBroadcast"/>).
    /// </summary>
    public bool SkipSyncWhenFlushImpliesIpiBroadcast { get; init; }

    /// <summary>
    /// Patch 2/2: tlb_flush() passes <c>wake_lazy_cpus = freed_tables || unshared_tables</c>, so an
    /// unshare-only gather IPIs lazy CPUs too. Upstream passes <c>tlb->freed_tables</c> alone.
    /// </summary>
    public bool TlbFlushWakesLazyCpusForUnsharedTables { get; init; }

    /// <summary>
    /// arch/x86/mm/tlb.c native_pv_tlb_init(), run once from native_smp_prepare_boot_cpu():
    /// enable tlb_ipi_broadcast_key only if flush_tlb_multi is the native one and the CPU has
    /// no INVLPGB. The answer is machine-wide and never revisited.
    /// </summary>
    public bool TlbTableFlushImpliesIpiBroadcast(MachineFeatures features) =>
        SkipSyncWhenFlushImpliesIpiBroadcast
        && features.FlushTlbMulti == FlushTlbMultiBackend.Native
        && !features.Invlpgb;

    /// <summary>The kernel before the series: the sync always broadcasts to every online CPU.</summary>
    public static KernelPolicy Baseline { get; } = new() { Name = "baseline" };

    /// <summary>"[PATCH 7.2 v10 0/2] skip redundant sync IPIs when TLB flush sent them", both patches applied.</summary>
    public static KernelPolicy Patched { get; } = new()
    {
        Name = "patched",
        SkipSyncWhenFlushImpliesIpiBroadcast = true,
        TlbFlushWakesLazyCpusForUnsharedTables = true,
    };

    public static IReadOnlyList<KernelPolicy> BuiltIn { get; } = [Baseline, Patched];

    public static KernelPolicy? Find(string name) =>
        BuiltIn.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
}
