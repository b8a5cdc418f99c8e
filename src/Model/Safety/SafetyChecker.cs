using System.Collections.Immutable;
using Shootdown.Model.Simulation;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Safety;

/// <summary>
/// The invariant the sync protects (docs/safety.md): a page table cleared from its upper level
/// is not freed, or reused by its remaining owner, while a walker that could have loaded the old
/// entry (one that began before the clear) is still inside its walk. Checked after the run, per
/// CPU, against every operation's <see cref="TableRetire"/>: the same pure function for both engines.
/// </summary>
public static class SafetyChecker
{
    /// <summary>Retires in the order the check searches them: by clear time.</summary>
    public static ImmutableArray<TableRetire> Order(IEnumerable<TableRetire> retires) =>
        retires.OrderBy(r => r.ClearNs).ThenBy(r => r.Initiator).ThenBy(r => r.Serial).ToImmutableArray();

    /// <summary>The policy's report from every CPU's check against <paramref name="ordered"/>.</summary>
    public static SafetyReport Report(ImmutableArray<TableRetire> ordered, IEnumerable<CpuSafety> cpus) =>
        SafetyReport.Combine(ordered.Length, ordered.Count(r => r.RcuDeferred), cpus);

    public static CpuSafety CheckCpu(SafetyRun run, IReadOnlyList<WalkRecord> walks, ImmutableArray<TableRetire> ordered)
    {
        var violations = ImmutableArray.CreateBuilder<Violation>();
        long count = 0;
        foreach (var walk in walks)
        {
            // Only a retire cleared inside the walk can be one whose old entry the walk holds and
            // that is retired before the walk ends: ClearNs in (start, end).
            for (var i = FirstClearAfter(ordered, walk.StartNs); i < ordered.Length && ordered[i].ClearNs < walk.EndNs; i++)
            {
                var r = ordered[i];
                if (r.Process != walk.Process || r.RcuDeferred || !Endangers(r.Hazard, walk.Kind)) continue;
                // A hugetlb sharer that left a table others share endangers its walkers only once the last sharer leaves.
                var reused = r.FreesTable ? r : LastSharerLeaves(ordered, i);
                if (reused is null || walk.EndNs <= reused.RetireNs) continue;
                count++;
                if (violations.Count < SafetyReport.MaxListed)
                {
                    var why = Why(run, walk, r);
                    if (!r.FreesTable) why += $"; the last sharer left at {reused.RetireNs / 1000.0:0.0} µs (CPU {reused.Initiator}), and the owner may reuse the table";
                    violations.Add(new Violation(reused.RetireNs, walk.Cpu, walk.Kind, walk.StartNs, walk.EndNs, r.Initiator, r.Serial, r.Op, r.Process,
                        run.Policy, why));
                }
            }
        }
        return new CpuSafety(walks.Count, count, violations.ToImmutable());
    }

    /// <summary>The unshare, at or after <paramref name="sharerLeft"/>, by which the last sharer of the same table leaves; null if none in the run.</summary>
    private static TableRetire? LastSharerLeaves(ImmutableArray<TableRetire> ordered, int sharerLeft)
    {
        var share = ordered[sharerLeft].Share;
        for (var j = sharerLeft + 1; j < ordered.Length; j++)
            if (ordered[j].Share == share && ordered[j].FreesTable) return ordered[j];
        return null;
    }

    private static int FirstClearAfter(ImmutableArray<TableRetire> ordered, long t)
    {
        int lo = 0, hi = ordered.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (ordered[mid].ClearNs <= t) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    public static bool IrqsOff(WalkerKind kind) => kind is WalkerKind.GupFast or WalkerKind.PaePmdpGetLockless;

    private static bool Endangers(RetireHazard hazard, WalkerKind kind) => hazard switch
    {
        RetireHazard.IrqOffWalkers => IrqsOff(kind),
        RetireHazard.PaeReaders => kind == WalkerKind.PaePmdpGetLockless,
        _ => true,
    };

    /// <summary>Why nothing drained this walker before the retire: which interrupt it did not get, and why.</summary>
    private static string Why(SafetyRun run, WalkRecord walk, TableRetire r)
    {
        var c = walk.Cpu;
        if (!IrqsOff(walk.Kind))
            return $"an RCU walker is not ended by an interrupt; only a grace period protects it, and the table was freed without one ({r.Sync})";
        if (r.Interrupted.Test(c))
            return $"CPU {c} was interrupted, but only after the table was retired ({r.Sync})";
        var flush = r.Flush switch
        {
            TlbFlushMechanism.None => "no TLB flush preceded the sync",
            TlbFlushMechanism.Invlpgb => "the flush was an INVLPGB broadcast (global ASID), which interrupts no CPU",
            TlbFlushMechanism.Hypercall => "the flush was a hypercall; the hypervisor flushed without interrupting the guest",
            TlbFlushMechanism.TlbiBroadcast => "the flush was a TLBI …IS broadcast, which interrupts no CPU",
            TlbFlushMechanism.SbiRemoteFence => "the flush was an SBI remote fence, handled in firmware, not by a Linux interrupt",
            _ when run.PvFlushLeftToHost(c, r.FlushNs)
                => $"vCPU {c} was preempted at the flush, so kvm_flush_tlb_multi() dropped it from the mask and left the flush to the host",
            _ when r.FlushMask is { } mask && !mask.Test(c) => $"CPU {c} was not in mm_cpumask, so the flush did not IPI it",
            _ => $"the flush did not interrupt CPU {c}",
        };
        return $"{flush}; sync: {r.Sync}";
    }
}

/// <summary>
/// What the check reads of a run besides its records: the policy's name, and whether a paravirtual
/// flush at a time left a vCPU to the host (kvm_flush_tlb_multi() drops a preempted vCPU from the
/// mask). The kernel's setup gives it (<c>SimulationSetup.SafetyRun</c>), so the checker reads no kernel type.
/// </summary>
public sealed record SafetyRun(string Policy, Func<int, long, bool> PvFlushLeftToHost);
