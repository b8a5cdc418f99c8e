using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Xunit;

namespace Shootdown.Tests;

/// <summary>A KVM guest's IPIs and idle (arch/x86/kernel/kvm.c, cpuidle-haltpoll), as closed forms.</summary>
public class KvmGuestTests
{
    private static PolicyResult Sync(string machine, string platform, string costs = "", string extra = "") => Sim.Run($"""
        machine: {machine}
        duration_us: 2000
        platform:
          flush: kvm
          {platform}
        {costs}
        processes:
          - name: p
            cpus: 0
        {extra}
        operations:
          - type: sync_without_flush
            process: p
            cpu: 0
            at_us: [10, 510, 1010, 1510]
        """, KernelPolicy.Baseline);

    private static long FirstLatency(PolicyResult r) => r.Ops.OrderBy(o => o.StartNs).First().LatencyNs;

    [Fact]
    public void PvSendIpiIsOneHypercallPer128ApicIds()
    {
        // 199 targets with APIC IDs 1-199, shorthands off (else all-but-self is one ICR write):
        // windows from 1 and from 129, two hypercalls; 1 µs more each is 2 µs.
        var cheap = FirstLatency(Sync("pack:1 numa:1 core:200 pu:1", "cpuidle: off", "costs:\n  ipi_shorthand: false"));
        var dear = FirstLatency(Sync("pack:1 numa:1 core:200 pu:1", "cpuidle: off", "costs:\n  kvm_send_ipi_hypercall_ns: 2500\n  ipi_shorthand: false"));
        Assert.Equal(2_000, dear - cheap);
    }

    [Fact]
    public void PvSendIpiReplacesOnlyTheMaskSenders()
    {
        // kvm_setup_pv_ipi() replaces send_IPI_mask and send_IPI_mask_allbutself only. All-but-self
        // with shorthands on is one exiting ICR write with PV send-IPI or without.
        var pv = FirstLatency(Sync("pack:1 numa:1 core:4 pu:1", "cpuidle: off"));
        var exits = FirstLatency(Sync("pack:1 numa:1 core:4 pu:1", "cpuidle: off\n  kvm_pv_send_ipi: false"));
        Assert.Equal(exits, pv);
        // So is a single target's send_IPI (two vCPUs).
        Assert.Equal(FirstLatency(Sync("pack:1 numa:1 core:2 pu:1", "cpuidle: off\n  kvm_pv_send_ipi: false")),
            FirstLatency(Sync("pack:1 numa:1 core:2 pu:1", "cpuidle: off")));
        // A mask (shorthands off): one hypercall with three deliveries, against one exiting x2APIC cluster write.
        const string noShorthand = "costs:\n  ipi_shorthand: false";
        var pvMask = FirstLatency(Sync("pack:1 numa:1 core:4 pu:1", "cpuidle: off", noShorthand));
        var exitsMask = FirstLatency(Sync("pack:1 numa:1 core:4 pu:1", "cpuidle: off\n  kvm_pv_send_ipi: false", noShorthand));
        var c = new Model.Costs.CostModel();
        Assert.Equal(c.KvmSendIpiHypercallNs + 3 * c.KvmSendIpiPerTargetNs - c.VmExitNs, pvMask - exitsMask);
    }

    [Theory]
    // cpuidle-haltpoll loads only with KVM_HINTS_REALTIME, under which PV flush and PV yield are
    // off; the guest that has them idles in default_idle()'s HLT, with no poll first.
    [InlineData("", "kvm-halt", true)]
    [InlineData("\n  kvm_hints_realtime: true", "kvm-haltpoll", false)]
    public void TheDefaultGuestIdlesAsItsHintsAllow(string hints, string cpuidle, bool pvYield)
    {
        var features = Sim.Parse($"machine: small-64\nduration_us: 100\nplatform:\n  flush: kvm{hints}\nprocesses:\n  - name: p\n    cpus: 0\n")
            .SetupFor(KernelPolicy.Baseline).Features;
        Assert.Equal((cpuidle, pvYield), (features.Cpuidle.Name, features.KvmPvSchedYield));
    }

    [Fact]
    public void AHaltedVcpuWaitsForTheHostToWakeIt()
    {
        // cpuidle-haltpoll: with no history the vCPU halts at once; the host takes 10 µs to run it
        // again, and the tick it had stopped is restarted.
        var awake = FirstLatency(Sync("pack:1 numa:1 core:4 pu:1", "cpuidle: off"));
        var halted = FirstLatency(Sync("pack:1 numa:1 core:4 pu:1", "cpuidle: kvm-haltpoll"));
        Assert.Equal(10_000 + new Model.Costs.CostModel().IdleTickNs, halted - awake);
    }

    [Fact]
    public void TheSenderYieldsItsPcpuToAPreemptedTarget()
    {
        // vCPU 1 runs a thread and is preempted 900 µs of every 1000: without the yield the sync
        // waits for the host to run it again; with it, it runs one hypercall later.
        const string busyCpu1 = "  - name: busy\n    cpus: 1\nsteal_time:\n  - cpus: 1\n    period_us: 1000\n    duration_us: 900";
        var yields = Sync("pack:1 numa:1 core:4 pu:1", "cpuidle: off", extra: busyCpu1);
        var waits = Sync("pack:1 numa:1 core:4 pu:1", "cpuidle: off\n  kvm_hints_realtime: true", extra: busyCpu1);
        Assert.All(yields.Ops, o => Assert.True(o.LatencyNs < 20_000, $"{o.LatencyNs} ns"));
        Assert.Contains(waits.Ops, o => o.LatencyNs > 100_000);
    }

    [Fact]
    public void KvmHintsRealtimeFlushesNativelyEvenPreemptedVcpus()
    {
        // The PV flush leaves preempted vCPUs to the host; with dedicated pCPUs the guest flushes
        // natively and IPIs them all. At 150 µs every window (99 µs of 100, from a phase under
        // 100 µs) has begun, so most of vCPUs 1-3 are preempted.
        PolicyResult Flush(string platform) => Sim.Run($"""
            machine: pack:1 numa:1 core:4 pu:1
            duration_us: 300
            platform:
              flush: kvm
              cpuidle: off
              {platform}
            processes:
              - name: p
                cpus: 0-3
            operations:
              - type: flush_range
                process: p
                cpu: 0
                pages: 1
                at_us: [150]
            steal_time:
              - cpus: 1-3
                period_us: 100
                duration_us: 99
            """, KernelPolicy.Baseline);
        Assert.Equal(3, Flush("kvm_hints_realtime: true").Ops.Single().FlushIpis);
        Assert.True(Flush("kvm_hints_realtime: false").Ops.Single().FlushIpis < 3);
    }
}
