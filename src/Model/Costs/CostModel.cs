using Shootdown.Model.Topology;

namespace Shootdown.Model.Costs;

/// <summary>How <c>send_call_function_ipi_mask()</c> reaches the targets (arch/x86/kernel/apic/ipi.c, x2apic_cluster.c).</summary>
public enum ApicMode
{
    /// <summary>x2APIC cluster mode: one ICR write per 16-CPU logical cluster holding targets.</summary>
    X2ApicCluster,
    /// <summary>Physical destination mode: one ICR write per target CPU (<c>default_send_IPI_mask_sequence_phys</c>).</summary>
    Physical,
    /// <summary>
    /// SGI/HPE UV (arch/x86/kernel/apic/x2apic_uv_x.c): <c>uv_send_IPI_mask()</c> and
    /// <c>uv_send_IPI_allbutself()</c> call <c>uv_send_IPI_one()</c> for each CPU, one write to the
    /// target's hub MMR, priced as one ICR write (GUESS); no shorthand, no clusters.
    /// </summary>
    Uv,
}

/// <summary>
/// One vendor and generation's one-way core-to-core latencies (CAS ping-pong, medians) from the
/// nviennot/core-to-core-latency README's single- and dual-socket tables: what the cache-line
/// transfers cost on that machine. The README gives no SMT-sibling figure but the 8375C's plot
/// (8.1 ns), which the others keep.
/// </summary>
public sealed record CoreToCoreTable(string Name, long SmtSiblingNs, long SameL3Ns, long SamePackageNs, long PerNumaHopNs, string Measured)
{
    public static CoreToCoreTable XeonIceLake { get; } = new("xeon-8375c", 8, 51, 51, 108 - 51, "Xeon Platinum 8375C (Ice Lake-SP, AWS c6i.metal): 51 ns in a socket, 108 ns socket to socket");
    public static CoreToCoreTable XeonCascadeLake { get; } = new("xeon-8275cl", 8, 47, 47, 134 - 47, "Xeon Platinum 8275CL (Cascade Lake): 47 ns in a socket, 134 ns socket to socket");
    public static CoreToCoreTable XeonBroadwell { get; } = new("xeon-e5-2695v4", 8, 44, 44, 118 - 44, "Xeon E5-2695 v4 (Broadwell): 44 ns in a socket, 118 ns socket to socket");
    public static CoreToCoreTable EpycMilan { get; } = new("epyc-7r13", 8, 23, 107, 197 - 107, "EPYC 7R13 (Milan, AWS c6a.metal): 23 ns in a CCX, 107 ns across CCXs, 197 ns socket to socket");

    public static IReadOnlyList<CoreToCoreTable> All { get; } = [XeonIceLake, XeonCascadeLake, XeonBroadwell, EpycMilan];

    public CostModel ApplyTo(CostModel costs) => costs with
    {
        CacheLineSmtSiblingNs = SmtSiblingNs,
        CacheLineSameL3Ns = SameL3Ns,
        CacheLineSamePackageNs = SamePackageNs,
        CacheLinePerNumaHopNs = PerNumaHopNs,
    };
}

/// <summary>
/// Every latency in the model, in virtual nanoseconds. Defaults cite their source; those
/// marked GUESS have no published figure (docs/calibration.md lists what is known) and are
/// there to be overridden from a scenario's <c>costs:</c> section.
/// </summary>
public sealed record CostModel
{
    // --- IPI delivery, from the ICR write on the sender to the interrupt being raised on the target.
    // The interrupt path's costs (these six) have no published figure each. Their proportions are
    // a guess; their scale is FIT to calibration row 5a (Amit 2019, one remote flush on Haswell):
    // each default is its guess × 0.503 (docs/calibration.md; `shootdown calibrate --fit`).
    /// <summary>FIT (guess 250). SMT siblings share the core's local APIC.</summary>
    public long IpiDeliverySmtSiblingNs { get; init; } = 126;
    /// <summary>FIT (guess 400). Same package, over the on-die interconnect.</summary>
    public long IpiDeliverySamePackageNs { get; init; } = 201;
    /// <summary>FIT (guess 300). Added per NUMA hop (see <see cref="Machine.NumaHops"/>).</summary>
    public long IpiDeliveryPerNumaHopNs { get; init; } = 151;

    // --- Interrupt handling on the target.
    /// <summary>FIT (guess 300). sysvec_call_function entry: vector dispatch, irq_enter, stack switch.</summary>
    public long InterruptEntryNs { get; init; } = 151;
    /// <summary>FIT (guess 200). irq_exit and the return to the interrupted context.</summary>
    public long InterruptExitNs { get; init; } = 101;
    /// <summary>
    /// FIT (guess 150). An interrupt that finds the CPU in user mode: the entry's CR3 switch under
    /// page-table isolation and back, and on a nohz_full CPU context tracking's user exit and re-entry.
    /// </summary>
    public long InterruptFromUserNs { get; init; } = 75;
    /// <summary>
    /// GUESS. On a nohz_full CPU, an interrupt from user mode also runs context tracking:
    /// ct_user_exit() on the way in and ct_user_enter() on the way out (an atomic on the RCU
    /// watching counter each, and vtime accounting).
    /// </summary>
    public long ContextTrackingNs { get; init; } = 100;
    /// <summary>
    /// GUESS. Waking from idle with the tick stopped: tick_irq_enter() catching jiffies up, and
    /// reprogramming the tick timer (a TSC-deadline write) on the way back.
    /// </summary>
    public long IdleTickNs { get; init; } = 500;
    /// <summary>GUESS. <c>tlb_remove_table_smp_sync()</c> is empty ("Simply deliver the interrupt"): the csd bookkeeping only.</summary>
    public long SyncFunctionNs { get; init; } = 30;
    /// <summary>GUESS. flush_tlb_func's fixed work before any invalidation (loaded_mm and tlb_gen checks).</summary>
    public long FlushTlbFuncBaseNs { get; init; } = 80;

    // --- flush_tlb_func invalidation (arch/x86/mm/tlb.c).
    /// <summary>"Each single flush is about 100 ns" (arch/x86/mm/tlb.c, comment above tlb_single_page_flush_ceiling).</summary>
    public long FlushTlbPerPageNs { get; init; } = 100;
    /// <summary>INVPCID "flush everything" ≈ 376 ns on a Skylake laptop (Lutomirski, RFC 04/13, Jan 2016).</summary>
    public long FlushTlbFullNs { get; init; } = 376;
    /// <summary>tlb_single_page_flush_ceiling: above this many pages a range flush becomes a full flush (default 33).</summary>
    public int TlbSinglePageFlushCeiling { get; init; } = 33;

    // --- smp_call_function_many_cond() on the sender (kernel/smp.c).
    /// <summary>
    /// GUESS. Per target, the sender's own stores once it owns the csd's line: func, info,
    /// CSD_TYPE_SYNC and the trace. The misses around them (cond_func's read of the target's
    /// cpu_tlbstate, csd_lock() and llist_add()) are cache-line transfers, priced by distance.
    /// </summary>
    public long CsdSetupPerTargetNs { get; init; } = 10;
    /// <summary>
    /// How many of csd_lock_wait()'s cache misses one CPU keeps in flight at once when the csds it
    /// reaches are already unlocked: at most its line fill buffers (10 on Intel cores since
    /// Nehalem, more on recent ones), a GUESS. The default, 1, charges them one after another, the
    /// upper bound: with 10, calibration row 1b falls to 0.48, out of the band fixed before it
    /// was run (docs/calibration.md, sensitivity), so the overlap stays a knob until the
    /// 196-core row's other missing costs are modelled.
    /// </summary>
    public int CsdLockWaitMissesInFlight { get; init; } = 1;
    /// <summary>GUESS. One x2APIC ICR write (a WRMSR, ~100+ cycles).</summary>
    public long IcrWriteNs { get; init; } = 40;
    // --- A KVM guest's IPIs (arch/x86/kernel/kvm.c). All GUESS.
    /// <summary>GUESS. A guest's x2APIC ICR write without PV send-IPI or IPI virtualization: an MSR-write VM exit and re-entry.</summary>
    public long VmExitNs { get; init; } = 1_200;
    /// <summary>GUESS. One KVM_HC_SEND_IPI hypercall: the exit and re-entry, for up to 128 APIC IDs.</summary>
    public long KvmSendIpiHypercallNs { get; init; } = 1_500;
    /// <summary>GUESS. The host's delivery to one vCPU inside that hypercall (kvm_apic_set_irq(), a posted interrupt).</summary>
    public long KvmSendIpiPerTargetNs { get; init; } = 50;
    /// <summary>GUESS. KVM_HC_SCHED_YIELD: the sender's hypercall, after which the host runs the preempted target.</summary>
    public long KvmSchedYieldNs { get; init; } = 2_000;

    /// <summary>Whether apic_use_ipi_shorthand is on: every present CPU has booted and no_ipi_broadcast is unset.</summary>
    public bool IpiShorthand { get; init; } = true;
    public ApicMode ApicMode { get; init; } = ApicMode.X2ApicCluster;

    // --- Cache-line transfers: a load or a locked RMW of a line another CPU wrote last (the
    // sender's cond_func read, csd_lock() and llist_add() per target; csd_lock_wait() seeing an
    // unlock). One-way core-to-core latencies, CAS ping-pong halved, from the
    // nviennot/core-to-core-latency README (medians).
    /// <summary>Hyper-threads of one core: 8.1 ns on a Xeon Platinum 8375C (Ice Lake-SP).</summary>
    public long CacheLineSmtSiblingNs { get; init; } = 8;
    /// <summary>Cores sharing an L3: 51 ns within one Xeon Platinum 8375C socket (one mesh L3 per socket).</summary>
    public long CacheLineSameL3Ns { get; init; } = 51;
    /// <summary>
    /// Same package, another L3 domain; also the base a NUMA hop adds to. An Intel package has one
    /// L3, so the default is the in-socket figure (51 ns); an EPYC 7R13 (Milan) measures about
    /// 107 ns between CCXs against 23 ns within one, and 197 ns socket to socket.
    /// </summary>
    public long CacheLineSamePackageNs { get; init; } = 51;
    /// <summary>Added per NUMA hop: 108 ns socket to socket on a dual Xeon Platinum 8375C, less the 51 ns within a socket.</summary>
    public long CacheLinePerNumaHopNs { get; init; } = 57;

    // --- mm-wide state.
    /// <summary>GUESS. inc_mm_tlb_gen()'s atomic on mm->context.tlb_gen plus reading mm_cpumask; also a cpumask bit set or clear.</summary>
    public long MmContextAccessNs { get; init; } = 100;
    /// <summary>GUESS. Moving a thread to another CPU's runqueue (wakeup IPI not modelled as a csd).</summary>
    public long MigrationNs { get; init; } = 2_000;

    // --- Flushes that interrupt no one (docs/model.md, the kernel facts). All GUESS unless noted.
    /// <summary>GUESS. One INVLPGB instruction on the initiator, for up to <see cref="InvlpgbCountMax"/> pages; no remote CPU is interrupted.</summary>
    public long InvlpgbNs { get; init; } = 60;
    /// <summary>GUESS. invlpgb_count_max: the pages one INVLPGB covers (CPUID Fn8000_0008_EDX[15:0] + 1; it varies by part).</summary>
    public int InvlpgbCountMax { get; init; } = 8;
    /// <summary>GUESS. One INVLPGB for the whole PCID.</summary>
    public long InvlpgbFullNs { get; init; } = 120;
    /// <summary>GUESS. TLBSYNC: the initiator waits until every CPU has completed the broadcast invalidation.</summary>
    public long TlbsyncNs { get; init; } = 1_000;
    /// <summary>GUESS. A Hyper-V or Xen flush hypercall (HVCALL_FLUSH_VIRTUAL_ADDRESS_*), round trip to the hypervisor.</summary>
    public long HypercallFlushNs { get; init; } = 3_000;
    /// <summary>GUESS. arm64 TLBI VALE1IS per page, before the closing DSB ISH.</summary>
    public long TlbiPerPageNs { get; init; } = 30;
    /// <summary>GUESS. arm64 DSB ISH after the TLBIs: waits for the broadcast to complete everywhere.</summary>
    public long DsbIshNs { get; init; } = 500;
    /// <summary>GUESS. RISC-V sbi_remote_sfence_vma_asid(): an SBI call that fences the other harts in firmware.</summary>
    public long SbiRemoteFenceNs { get; init; } = 5_000;

    // --- RCU and walkers.
    /// <summary>
    /// GUESS (no published figure). The grace-period kthread's turn at each end of a grace period:
    /// woken to start it (rcu_gp_init()), and again to end it and wake the waiter (rcu_gp_cleanup()).
    /// The grace period itself comes from the CPUs' quiescent states (<see cref="Kernel.RcuTree"/>).
    /// </summary>
    public long RcuGpKthreadNs { get; init; } = 10_000;
    /// <summary>rcutree.jiffies_till_first_fqs; 0: the kernel's default from HZ and nr_cpu_ids (<see cref="Kernel.RcuTree.JiffiesTillFirstFqs"/>).</summary>
    public long RcuJiffiesTillFirstFqs { get; init; }
    /// <summary>Per-CPU lockless-walk tracking (Hildenbrand step 2): about +3% GUP-fast latency on 64 cores (Lance v4/v5).</summary>
    public int LocklessWalkTrackingPercent { get; init; } = 3;
    /// <summary>1/HZ: the jiffy that consider_global_asid() samples. HZ=1000.</summary>
    public long JiffyNs { get; init; } = 1_000_000;

    /// <summary>From the ICR write on the sender to the interrupt raised on the target.</summary>
    public long IpiDelivery(Machine m, int from, int to) => m.Relation(from, to) switch
    {
        CpuRelation.Self or CpuRelation.SmtSibling => IpiDeliverySmtSiblingNs,
        _ => IpiDeliverySamePackageNs + m.NumaHops(from, to) * IpiDeliveryPerNumaHopNs,
    };

    /// <summary>How long a line one CPU wrote last takes to reach another: by SMT, L3, package and NUMA distance.</summary>
    public long CacheLineTransfer(Machine m, int from, int to) => m.Relation(from, to) switch
    {
        CpuRelation.Self => 0,
        CpuRelation.SmtSibling => CacheLineSmtSiblingNs,
        CpuRelation.SameL3 => CacheLineSameL3Ns,
        _ => CacheLineSamePackageNs + m.NumaHops(from, to) * CacheLinePerNumaHopNs,
    };

    /// <summary>The fastest cache-line transfer between two different CPUs.</summary>
    public long FastestCacheLineNs => Math.Min(CacheLineSmtSiblingNs, Math.Min(CacheLineSameL3Ns, CacheLineSamePackageNs));

    /// <summary>
    /// The smallest delay of any interaction between two entities (a cache-line transfer, which
    /// every csd, answer and unlock is, an mm access, a migration): every write one entity makes
    /// to another's state lands at least this far in the future.
    /// </summary>
    public long FastestInteractionNs => Math.Min(FastestCacheLineNs, Math.Min(MmContextAccessNs, MigrationNs));

    /// <summary>Rejects values that would make time run backwards or stall the engine.</summary>
    public void Validate()
    {
        foreach (var (name, value) in new (string, long)[]
                 {
                     (nameof(IpiDeliverySmtSiblingNs), IpiDeliverySmtSiblingNs), (nameof(IpiDeliverySamePackageNs), IpiDeliverySamePackageNs),
                     (nameof(IpiDeliveryPerNumaHopNs), IpiDeliveryPerNumaHopNs), (nameof(InterruptEntryNs), InterruptEntryNs),
                     (nameof(InterruptExitNs), InterruptExitNs), (nameof(SyncFunctionNs), SyncFunctionNs),
                     (nameof(InterruptFromUserNs), InterruptFromUserNs), (nameof(IdleTickNs), IdleTickNs),
                     (nameof(ContextTrackingNs), ContextTrackingNs),
                     (nameof(VmExitNs), VmExitNs), (nameof(KvmSendIpiHypercallNs), KvmSendIpiHypercallNs),
                     (nameof(KvmSendIpiPerTargetNs), KvmSendIpiPerTargetNs), (nameof(KvmSchedYieldNs), KvmSchedYieldNs),
                     (nameof(FlushTlbFuncBaseNs), FlushTlbFuncBaseNs), (nameof(FlushTlbPerPageNs), FlushTlbPerPageNs),
                     (nameof(FlushTlbFullNs), FlushTlbFullNs), (nameof(IcrWriteNs), IcrWriteNs),
                     (nameof(CacheLinePerNumaHopNs), CacheLinePerNumaHopNs), (nameof(CsdSetupPerTargetNs), CsdSetupPerTargetNs),
                     (nameof(InvlpgbNs), InvlpgbNs), (nameof(InvlpgbFullNs), InvlpgbFullNs), (nameof(TlbsyncNs), TlbsyncNs),
                     (nameof(HypercallFlushNs), HypercallFlushNs), (nameof(TlbiPerPageNs), TlbiPerPageNs), (nameof(DsbIshNs), DsbIshNs),
                     (nameof(SbiRemoteFenceNs), SbiRemoteFenceNs), (nameof(RcuGpKthreadNs), RcuGpKthreadNs),
                 })
        {
            if (value is < 0 or > 1_000_000_000) throw new ArgumentOutOfRangeException(name, value, "must be between 0 and 1 s");
        }
        foreach (var (name, value) in new (string, long)[]
                 {
                     (nameof(CacheLineSmtSiblingNs), CacheLineSmtSiblingNs), (nameof(CacheLineSameL3Ns), CacheLineSameL3Ns),
                     (nameof(CacheLineSamePackageNs), CacheLineSamePackageNs), (nameof(MmContextAccessNs), MmContextAccessNs),
                     (nameof(MigrationNs), MigrationNs),
                 })
        {
            // These bound the fastest interaction: zero would let one entity change another's state at the same instant.
            if (value is < 1 or > 1_000_000_000) throw new ArgumentOutOfRangeException(name, value, "must be between 1 ns and 1 s");
        }
        if (LocklessWalkTrackingPercent is < 0 or > 1000)
            throw new ArgumentOutOfRangeException(nameof(LocklessWalkTrackingPercent), LocklessWalkTrackingPercent, "must be between 0 and 1000");
        if (RcuJiffiesTillFirstFqs is < 0 or > 1_000_000)
            throw new ArgumentOutOfRangeException(nameof(RcuJiffiesTillFirstFqs), RcuJiffiesTillFirstFqs, "must be between 0 (the kernel's default) and 1000000");
        if (JiffyNs is < 1_000 or > 1_000_000_000)
            throw new ArgumentOutOfRangeException(nameof(JiffyNs), JiffyNs, "must be between 1 µs and 1 s");
        if (CsdLockWaitMissesInFlight is < 1 or > 1024)
            throw new ArgumentOutOfRangeException(nameof(CsdLockWaitMissesInFlight), CsdLockWaitMissesInFlight, "must be between 1 and 1024");
        if (InvlpgbCountMax is < 1 or > 65_536)
            throw new ArgumentOutOfRangeException(nameof(InvlpgbCountMax), InvlpgbCountMax, "must be between 1 and 65536");
        if (TlbSinglePageFlushCeiling is < 1 or > 1 << 20)
            throw new ArgumentOutOfRangeException(nameof(TlbSinglePageFlushCeiling), TlbSinglePageFlushCeiling, "must be between 1 and 1048576");
    }
}
