using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Xunit;

namespace Shootdown.Tests;

/// <summary>Per-architecture details of flush_tlb_mm_range() and native_flush_tlb_multi(), as closed forms.</summary>
public class FlushPathTests
{
    private static long LastLatency(PolicyResult r) => r.Ops.OrderBy(o => o.StartNs).Last().LatencyNs;

    [Fact]
    public void InvlpgbIsIssuedPerInvlpgbCountMaxPages()
    {
        // The first flush assigns the global ASID, the second is the ASID transition (both IPI);
        // the third is INVLPGB. 20 pages at 8 a piece take 3 INVLPGBs where 1 page takes one: two more.
        long Second(int pages) => LastLatency(Sim.Run($"""
            machine: pack:1 numa:1 core:8 pu:1
            duration_us: 100
            platform:
              invlpgb: true
              global_asid_sampling: false
            processes:
              - name: p
                cpus: 0-7
            operations:
              - type: flush_range
                process: p
                cpu: 0
                pages: {pages}
                at_us: [10, 30, 50]
            """, KernelPolicy.Baseline));
        var costs = new Model.Costs.CostModel();
        Assert.Equal(2 * costs.InvlpgbNs, Second(20) - Second(1));
    }

    [Fact]
    public void Arm64FlushesARangeUpToMaxDvmOpsPageByPage()
    {
        long Flush(int pages) => LastLatency(Sim.Run($"""
            machine: pack:1 numa:1 core:4 pu:1
            duration_us: 100
            platform:
              arch: arm64
            processes:
              - name: p
                cpus: 0-3
            operations:
              - type: flush_range
                process: p
                cpu: 0
                pages: {pages}
                at_us: [10]
            """, KernelPolicy.Baseline));
        // 100 pages is past x86's ceiling of 33 but not arm64's MAX_DVM_OPS (512): TLBI per page.
        Assert.Equal(99 * new Model.Costs.CostModel().TlbiPerPageNs, Flush(100) - Flush(1));
        // 512 pages and more: one TLBI ASIDE1IS for the whole ASID.
        Assert.Equal(Flush(1), Flush(512));
    }

    [Fact]
    public void DuringTheAsidTransitionEveryCpuOfTheMaskIsIpid()
    {
        // p runs on CPUs 0-7 until q takes 4-7 at the 3 ms timeslice; p's mm_cpumask keeps them.
        // The flush at 4 ms gives p its global ASID (active on 0-3, more than 3), and
        // should_flush_tlb() declines 4-7 (q is loaded there). The next flush is the ASID
        // transition: it IPIs the whole mask.
        var r = Sim.Run("""
            machine: pack:1 numa:1 core:8 pu:1
            duration_us: 5000
            platform:
              invlpgb: true
              global_asid_sampling: false
            processes:
              - name: p
                cpus: 0-7
              - name: q
                threads: 4
                cpus: 4-7
            operations:
              - type: flush_range
                process: p
                cpu: 0
                pages: 1
                at_us: [4000, 4010]
            """, KernelPolicy.Baseline);
        Assert.Equal([3, 7], r.Ops.OrderBy(o => o.StartNs).Select(o => o.FlushIpis));
    }
}
