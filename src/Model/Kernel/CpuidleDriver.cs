using System.Collections.Immutable;

namespace Shootdown.Model.Kernel;

/// <summary>
/// One idle state as a cpuidle driver registers it (include/linux/cpuidle.h, struct cpuidle_state).
/// <see cref="Polls"/>: the CPU keeps TIF_POLLING_NRFLAG set while in it, so a write to its
/// thread flags wakes it without an interrupt: the POLL state spins on them, and MWAIT states
/// monitor their cache line (arch/x86/include/asm/mwait.h, mwait_idle_with_hints()). HLT does not.
/// <see cref="ExitLatencyNs"/> is the table's, which the governor reads; a state whose table
/// figure is a package C-state's worst case has a <see cref="CoreExitLatencyNs"/>, what the core
/// pays when its package never got there.
/// </summary>
public sealed record IdleState(string Name, long ExitLatencyNs, long TargetResidencyNs, bool Polls)
{
    /// <summary>
    /// The exit latency when another core of the package keeps it out of its package C-state,
    /// where the table's figure is that package state's worst case; null where the two agree.
    /// </summary>
    public long? CoreExitLatencyNs { get; init; }

    /// <summary>drivers/cpuidle/poll_state.c, cpuidle_poll_state_init(): state 0, CPUIDLE_FLAG_POLLING.</summary>
    public static IdleState Poll { get; } = new("POLL", 0, 0, Polls: true);

    public bool IsPollState => ExitLatencyNs == 0 && TargetResidencyNs == 0 && Polls;
}

/// <summary>
/// The idle states a CPU can enter, shallowest first, as its cpuidle driver registers them. The
/// tables are the kernel's own (drivers/idle/intel_idle.c); <see cref="Off"/> keeps idle CPUs
/// waking at no cost, for a machine whose idle behaviour the run is not about.
/// </summary>
public sealed record CpuidleDriver(string Name, ImmutableArray<IdleState> States)
{
    private const long Us = 1_000;

    /// <summary>
    /// intel_idle spr_cstates (Sapphire Rapids Xeon): C1 1/1 µs, C1E 2/4 µs, C6 290/800 µs (exit
    /// latency/target residency), all MWAIT. "By default, the C6 state assumes the worst-case
    /// scenario of package C6" (spr_idle_state_table_update()): 290 µs is paid only when the whole
    /// package was in package C6, which needs every core of it idle; a core whose package stayed
    /// up leaves core C6, whose worst case is the 190 µs the kernel uses when package C6 is off.
    /// </summary>
    public static CpuidleDriver IntelSpr { get; } = new("spr",
    [
        IdleState.Poll,
        new IdleState("C1", 1 * Us, 1 * Us, Polls: true),
        new IdleState("C1E", 2 * Us, 4 * Us, Polls: true),
        new IdleState("C6", 290 * Us, 800 * Us, Polls: true) { CoreExitLatencyNs = 190 * Us },
    ]);

    /// <summary>
    /// Sapphire Rapids with package C6 disabled in the BIOS: spr_idle_state_table_update() lowers
    /// C6 to 190/600 µs, a core C6 exit's worst case, and the governor picks from those figures.
    /// </summary>
    public static CpuidleDriver IntelSprPc6Off { get; } = new("spr-pc6-off",
    [
        IdleState.Poll,
        IntelSpr.States[1],
        IntelSpr.States[2],
        new IdleState("C6", 190 * Us, 600 * Us, Polls: true),
    ]);

    /// <summary>intel_idle skx_cstates (Skylake-SP, Cascade Lake): C1 2/2 µs, C1E 10/20 µs, C6 133/600 µs, all MWAIT.</summary>
    public static CpuidleDriver IntelSkx { get; } = new("skx",
    [
        IdleState.Poll,
        new IdleState("C1", 2 * Us, 2 * Us, Polls: true),
        new IdleState("C1E", 10 * Us, 20 * Us, Polls: true),
        new IdleState("C6", 133 * Us, 600 * Us, Polls: true),
    ]);

    /// <summary>intel_idle.max_cstate=1 on Sapphire Rapids, as latency-sensitive hosts boot: POLL and C1 only.</summary>
    public static CpuidleDriver IntelSprMaxCstate1 { get; } = new("spr-max-cstate-1", [IdleState.Poll, IntelSpr.States[1]]);

    /// <summary>idle=poll: the idle loop spins in cpu_idle_poll() and never leaves C0.</summary>
    public static CpuidleDriver IdlePoll { get; } = new("poll", [IdleState.Poll]);

    /// <summary>GUESS. HLT (default_idle(), acpi_idle's C1, arm64 and RISC-V WFI): about 1 µs out, and it does not poll.</summary>
    public static CpuidleDriver Halt { get; } = new("halt", [IdleState.Poll, new IdleState("HLT", 1 * Us, 1 * Us, Polls: false)]);

    /// <summary>
    /// GUESS. A KVM guest with cpuidle-haltpoll: it polls for up to guest_halt_poll_ns (200 µs by
    /// default, drivers/cpuidle/governors/haltpoll.c) and then halts; an IPI to a halted vCPU waits
    /// for the host to wake the vCPU's thread and enter it again, about 10 µs.
    /// </summary>
    public static CpuidleDriver KvmHaltpoll { get; } = new("kvm-haltpoll", [IdleState.Poll, new IdleState("HLT (vCPU)", 10 * Us, 200 * Us, Polls: false)]);

    /// <summary>
    /// A KVM guest without cpuidle-haltpoll, which loads only with KVM_HINTS_REALTIME (or its
    /// <c>force</c> parameter: drivers/cpuidle/cpuidle-haltpoll.c haltpoll_want()): the idle loop
    /// has no cpuidle driver and calls default_idle(), HLT at once, with no poll first. Waking the
    /// vCPU takes the host about 10 µs, as for haltpoll's HLT (GUESS).
    /// </summary>
    public static CpuidleDriver KvmHalt { get; } = new("kvm-halt", [new IdleState("HLT (vCPU)", 10 * Us, 0, Polls: false)]);

    /// <summary>No idle states modelled: an idle CPU takes an interrupt at once and never polls.</summary>
    public static CpuidleDriver Off { get; } = new("off", []);

    public static ImmutableArray<CpuidleDriver> All { get; } = [IntelSpr, IntelSprPc6Off, IntelSkx, IntelSprMaxCstate1, IdlePoll, Halt, KvmHaltpoll, KvmHalt, Off];
}
