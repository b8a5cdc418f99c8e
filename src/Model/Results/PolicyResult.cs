using System.Collections.Immutable;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Shootdown.Model.Safety;
using Shootdown.Model.State;
using Shootdown.Model.Statistics;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Results;

/// <summary>One CPU's final counters, in the order of the per-CPU result file.</summary>
/// <see cref="EntryExitNs"/> and <see cref="HandlerNs"/> split <see cref="StolenNs"/>; the digest
/// leaves them out, since their sum is in it. It leaves out <see cref="IpisReceived"/> too, counted
/// after the digests were fixed: the IPIs follow from the csds queued and the timings the digest
/// holds, and leaving it out keeps every digest comparable with earlier builds.
public sealed record CpuCounters(int Cpu, long Cal, long Tlb, long CsdsHandled, long SyncCsdsHandled, long StolenNs, long MaxSingleNs, long MaxPeriodNoiseNs,
    long IdleExitNs, long EntryExitNs = 0, long HandlerNs = 0, long IpisReceived = 0) : IStateRecord<CpuCounters>
{
    public void Write(StateWriter w)
    {
        w.Int(Cpu);
        w.Long(Cal);
        w.Long(Tlb);
        w.Long(CsdsHandled);
        w.Long(SyncCsdsHandled);
        w.Long(StolenNs);
        w.Long(MaxSingleNs);
        w.Long(MaxPeriodNoiseNs);
        w.Long(IdleExitNs);
        w.Long(EntryExitNs);
        w.Long(HandlerNs);
        w.Long(IpisReceived);
    }

    public static CpuCounters Read(StateReader r) => new(r.Int(), r.Long(), r.Long(), r.Long(), r.Long(), r.Long(), r.Long(), r.Long(), r.Long(), r.Long(), r.Long(), r.Long());

    public static CpuCounters From(int cpu, CpuStats s) =>
        new(cpu, s.Cal, s.Tlb, s.CsdsHandled, s.SyncCsdsHandled, s.StolenNs, s.MaxSingleNs, s.MaxPeriodNoiseNs, s.IdleExitNs, s.EntryExitNs, s.HandlerNs, s.IpisReceived);
}

/// <summary>
/// Latency figures of one operation type, in virtual nanoseconds. <see cref="Count"/> is the
/// sample size; a percentile the samples cannot support is null (<see cref="Percentiles"/>:
/// p50 from 2 samples, p99 from 100), and only <see cref="MaxNs"/> is then reported.
/// </summary>
public sealed record LatencySummary(OpType Type, int Count, double MeanNs, long? P50Ns, long? P99Ns, long MaxNs, long FlushIpis, long SyncIpis, long CollateralIpis)
{
    public static LatencySummary Of(OpType type, IReadOnlyList<OpRecord> ops)
    {
        if (ops.Count == 0) return new(type, 0, 0, null, null, 0, 0, 0, 0);
        var sorted = ops.Select(o => o.LatencyNs).Order().ToArray();
        return new(type, ops.Count, sorted.Average(), Percentiles.NearestRank(sorted, 0.50), Percentiles.NearestRank(sorted, 0.99), sorted[^1],
            ops.Sum(o => (long)o.FlushIpis), ops.Sum(o => (long)o.SyncIpis), ops.Sum(o => (long)o.CollateralIpis));
    }
}

/// <summary>osnoise-style disruption of the isolated real-time CPUs.</summary>
public sealed record RealtimeNoise(int Cpus, long Interrupts, long NoiseNs, long MaxSingleNs, double CpuAvailablePercent);

/// <summary>Everything one policy's run produced, and the digest that pins it.</summary>
public sealed class PolicyResult
{
    public PolicyResult(string policy, long endNs, long eventsProcessed, ImmutableArray<CpuCounters> cpus, ImmutableArray<OpRecord> ops, ImmutableArray<int> realtimeCpus,
        SafetyReport? safety = null)
    {
        Safety = safety;
        Policy = policy;
        EndNs = endNs;
        EventsProcessed = eventsProcessed;
        Cpus = cpus;
        Ops = ops.Sort((a, b) => a.Initiator != b.Initiator ? a.Initiator.CompareTo(b.Initiator) : a.Serial.CompareTo(b.Serial));
        ByType = Enum.GetValues<OpType>()
            .Select(t => LatencySummary.Of(t, Ops.Where(o => o.Type == t).ToList()))
            .Where(s => s.Count > 0)
            .ToImmutableArray();
        var rt = realtimeCpus.Select(c => cpus[c]).ToList();
        var rtNoise = rt.Sum(c => c.StolenNs);
        Realtime = new RealtimeNoise(rt.Count, rt.Sum(c => c.Cal), rtNoise, rt.Count == 0 ? 0 : rt.Max(c => c.MaxSingleNs),
            rt.Count == 0 || endNs == 0 ? 100 : 100.0 * (1.0 - (double)rtNoise / ((double)endNs * rt.Count)));
        Digest = ComputeDigest();
    }

    public string Policy { get; }

    /// <summary>Virtual time of the last event: the run's Runtime.</summary>
    public long EndNs { get; }

    /// <summary>Engine-independent: every event of the run is processed exactly once by either engine.</summary>
    public long EventsProcessed { get; }

    public ImmutableArray<CpuCounters> Cpus { get; }
    public ImmutableArray<OpRecord> Ops { get; }
    public ImmutableArray<LatencySummary> ByType { get; }
    public RealtimeNoise Realtime { get; }
    public string Digest { get; }

    /// <summary>The lockless-walker safety check, when the scenario has walkers.</summary>
    public SafetyReport? Safety { get; }

    /// <summary>Call-function interrupts taken machine-wide (the sum of CAL).</summary>
    public long TotalInterrupts => Cpus.Sum(c => c.Cal);

    /// <summary>IPIs that reached their targets (<see cref="CpuStats.IpisReceived"/>): between the csds queued (<see cref="CsdsQueued"/>) and the interrupts taken.</summary>
    public long IpisReceived => Cpus.Sum(c => c.IpisReceived);

    /// <summary>Every csd queued on a remote CPU, flush and sync: each asks for an IPI, which a queue already busy does not send.</summary>
    public long CsdsQueued => Ops.Sum(o => (long)o.FlushIpis + o.SyncIpis);

    /// <summary>IPIs to CPUs outside the initiating mm's mm_cpumask.</summary>
    public long CollateralIpis => Ops.Sum(o => (long)o.CollateralIpis);

    /// <summary>
    /// SHA-256 over a canonical text encoding of every per-CPU counter and every operation's
    /// timings and IPI counts, so two runs agree on the digest only if they agree on all of it.
    /// </summary>
    private string ComputeDigest()
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.Append(inv, $"policy {Policy} end {EndNs} events {EventsProcessed}\n");
        foreach (var c in Cpus)
            sb.Append(inv, $"cpu {c.Cpu} {c.Cal} {c.Tlb} {c.CsdsHandled} {c.SyncCsdsHandled} {c.StolenNs} {c.MaxSingleNs} {c.MaxPeriodNoiseNs} {c.IdleExitNs}\n");
        foreach (var o in Ops)
            sb.Append(inv, $"op {o.Initiator} {o.Serial} {o.Type} {o.Process} {o.ArrivalNs} {o.StartNs} {o.EndNs} {o.FlushIpis} {o.SyncIpis} {o.CollateralIpis} {o.FullFlush} {o.Synced}\n");
        if (Safety is { } safety)
        {
            sb.Append(inv, $"safety {safety.Walks} {safety.Retires} {safety.RcuDeferredRetires} {safety.ViolationCount}\n");
            foreach (var v in safety.Violations)
                sb.Append(inv, $"violation {v.TimeNs} {v.Cpu} {v.Walker} {v.WalkStartNs} {v.WalkEndNs} {v.Initiator} {v.OpSerial} {v.Why}\n");
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    /// <summary>
    /// Every engine's result, from what each CPU reports (in any order: it is put in CPU order),
    /// the run's end and event count, and the safety report when the run checks one.
    /// </summary>
    public static PolicyResult Collect(string policy, long endNs, long events, IEnumerable<(CpuCounters Counters, IEnumerable<OpRecord> Ops)> cpus,
        IEnumerable<int> realtimeCpus, SafetyReport? safety)
    {
        var list = cpus.OrderBy(c => c.Counters.Cpu).ToList();
        return new PolicyResult(policy, endNs, events,
            list.Select(c => c.Counters).ToImmutableArray(),
            list.SelectMany(c => c.Ops).ToImmutableArray(),
            realtimeCpus.Order().ToImmutableArray(),
            safety);
    }
}
