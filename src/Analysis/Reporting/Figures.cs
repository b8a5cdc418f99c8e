using System.Globalization;
using Shootdown.Analysis.Runs;
using Shootdown.Model.Results;
using Shootdown.Model.Statistics;
using Shootdown.Model.Workload;
using Shootdown.Scenarios;
using static Shootdown.Analysis.Reporting.Headline;

namespace Shootdown.Analysis.Reporting;

/// <summary>How a figure is printed.</summary>
public enum FigureUnit
{
    Count,
    Microseconds,
    Percent,
    /// <summary>Per second of virtual time.</summary>
    PerSecond,
}

/// <summary>
/// One headline figure: a number each policy's run yields (null where the run has nothing to
/// measure, such as the mean latency of an operation it never made), under a key used in
/// results.json and the CSV and a label used in the table and the report.
/// </summary>
public sealed record Figure(string Key, string Label, FigureUnit Unit, Func<PolicyResult, Scenario, double?> Of, bool Bold = false, bool Sub = false)
{
    /// <summary>The figure over a set's replicates of one policy; null where no replicate yields it.</summary>
    public MedianEstimate? Over(ReplicateSet set, int policy)
    {
        var values = set.Replicates.Select(c => Of(c.Runs[policy].Result, c.Scenario)).OfType<double>().ToList();
        return values.Count == 0 ? null : MedianEstimate.Of(values);
    }

    public string Format(double v) => Unit switch
    {
        FigureUnit.Count => v == Math.Floor(v) ? v.ToString("N0", CultureInfo.InvariantCulture) : v.ToString("N1", CultureInfo.InvariantCulture),
        FigureUnit.Microseconds => v.ToString("0.0", CultureInfo.InvariantCulture),
        FigureUnit.Percent => v.ToString("0.00000", CultureInfo.InvariantCulture),
        _ => v.ToString(Math.Abs(v) >= 100 ? "N0" : "0.0##", CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// One cell: the value of a single run; over replicates, the median and its 95 % interval in
    /// brackets, or the range in parentheses where n is too small for one (a value every
    /// replicate gave alone); n is added where some replicates did not yield the figure.
    /// </summary>
    public string Cell(MedianEstimate? e, int replicates)
    {
        if (e is null) return "-";
        if (e.N == 1 && replicates == 1 || e.Low == e.High && e.N == replicates) return Format(e.Median);
        var (open, close) = e.HasInterval ? ("[", "]") : ("(", ")");
        var cell = $"{Format(e.Median)} {open}{Format(e.Low)}–{Format(e.High)}{close}";
        return e.N < replicates ? $"{cell} n={e.N}" : cell;
    }
}

/// <summary>The operations' latencies pooled over a set's replicates: every operation is one sample.</summary>
public sealed record PooledLatency(OpType Type, int N, long? P50Ns, long? P99Ns, long MaxNs)
{
    public static PooledLatency? Of(ReplicateSet set, int policy, OpType type)
    {
        // Pooling is valid: the replicates are independent runs of one scenario, so their
        // operations are draws from the same distribution.
        var sorted = set.Replicates.SelectMany(c => c.Runs[policy].Result.Ops.Where(o => o.Type == type).Select(o => o.LatencyNs)).Order().ToArray();
        return sorted.Length == 0 ? null
            : new PooledLatency(type, sorted.Length, Percentiles.NearestRank(sorted, 0.50), Percentiles.NearestRank(sorted, 0.99), sorted[^1]);
    }

    /// <summary>"p50 / p99 (n=…)", with – for a percentile the samples cannot support.</summary>
    public string Cell() => $"{Shown(P50Ns)} / {Shown(P99Ns)} (n={Headline.N(N)})";

    private static string Shown(long? ns) => ns is { } v ? Us(v) : "–";
}

/// <summary>The headline figures, defined once for the table, results.json, the CSV and the HTML report.</summary>
public static class Figures
{
    /// <summary>The operation types any replicate of any policy made, in enum order.</summary>
    public static IReadOnlyList<OpType> OperationTypes(ReplicateSet set) =>
        [.. set.Replicates.SelectMany(c => c.Runs).SelectMany(r => r.Result.ByType.Select(s => s.Type)).Distinct().Order()];

    /// <summary>The figures of one operation type.</summary>
    public static IReadOnlyList<Figure> OfOperation(OpType type)
    {
        var name = OperationName(type);
        LatencySummary? S(PolicyResult r) => r.ByType.FirstOrDefault(s => s.Type == type);
        return
        [
            new($"{name}.count", "count", FigureUnit.Count, (r, _) => S(r)?.Count ?? 0, Bold: true),
            new($"{name}.latency_mean_us", "latency mean µs", FigureUnit.Microseconds, (r, _) => S(r) is { } s ? s.MeanNs / 1000 : null, Sub: true),
            new($"{name}.latency_max_us", "latency max µs", FigureUnit.Microseconds, (r, _) => S(r) is { } s ? s.MaxNs / 1000.0 : null, Sub: true),
            new($"{name}.flush_ipis", "flush csds", FigureUnit.Count, (r, _) => S(r)?.FlushIpis ?? 0, Sub: true),
            new($"{name}.sync_ipis", "sync csds", FigureUnit.Count, (r, _) => S(r)?.SyncIpis ?? 0, Sub: true),
        ];
    }

    /// <summary>The machine-wide totals, in the table's order.</summary>
    public static IReadOnlyList<Figure> Totals(ReplicateSet set)
    {
        var rt = set.Scenario.Workload.RealtimeCpus.Length;
        var list = new List<Figure>
        {
            // Three counts kernel developers keep apart: a csd per target, an IPI only where its
            // queue was empty, an interrupt only where no IPI was already pending.
            new("csds_queued", "csds queued", FigureUnit.Count, (r, _) => r.CsdsQueued),
            new("ipis_received", "IPIs received", FigureUnit.Count, (r, _) => r.IpisReceived),
            new("interrupts", "interrupts taken (sum of CAL)", FigureUnit.Count, (r, _) => r.TotalInterrupts),
            new("tlb", "TLB (sum)", FigureUnit.Count, (r, _) => r.Cpus.Sum(x => x.Tlb)),
            new("collateral_ipis", "collateral IPIs", FigureUnit.Count, (r, _) => r.CollateralIpis, Bold: true),
            new("stolen_us", "CPU time stolen µs", FigureUnit.Microseconds, (r, _) => r.Cpus.Sum(x => x.StolenNs) / 1000.0),
        };
        if (rt > 0)
            list.AddRange(
            [
                new Figure("rt_interrupts", $"RT CPUs ({rt}) interrupts", FigureUnit.Count, (r, _) => r.Realtime.Interrupts),
                new Figure("rt_noise_us", "RT noise total µs", FigureUnit.Microseconds, (r, _) => r.Realtime.NoiseNs / 1000.0),
                new Figure("rt_max_single_us", "RT noise max single µs", FigureUnit.Microseconds, (r, _) => r.Realtime.MaxSingleNs / 1000.0),
                new Figure("rt_cpu_available_percent", "RT % CPU available", FigureUnit.Percent, (r, _) => r.Realtime.CpuAvailablePercent),
            ]);
        if (set.First.Runs[0].Result.Safety is not null)
            list.AddRange(
            [
                new Figure("walks", "lockless walks checked", FigureUnit.Count, (r, _) => r.Safety!.Walks),
                new Figure("retires", "tables retired", FigureUnit.Count, (r, _) => r.Safety!.Retires),
                new Figure("violations", "safety violations", FigureUnit.Count, (r, _) => r.Safety!.ViolationCount, Bold: true),
            ]);
        list.Add(new("events", "events", FigureUnit.Count, (r, _) => r.EventsProcessed));
        return list;
    }

    /// <summary>
    /// Rates per second of the scenario's virtual duration, so runs of different lengths compare:
    /// a 100 ms run and a 1 s run of the same workload give the same rates.
    /// </summary>
    public static IReadOnlyList<Figure> Rates(ReplicateSet set)
    {
        var rt = set.Scenario.Workload.RealtimeCpus.Length;
        static double Seconds(Scenario s) => s.DurationNs / 1e9;
        var list = new List<Figure>
        {
            new("operations_per_s", "operations /s", FigureUnit.PerSecond, (r, s) => r.Ops.Length / Seconds(s)),
            new("interrupts_per_cpu_per_s", "interrupts /s per CPU", FigureUnit.PerSecond, (r, s) => r.TotalInterrupts / (double)s.Machine.CpuCount / Seconds(s)),
        };
        if (rt > 0)
            list.Add(new("rt_interrupts_per_cpu_per_s", "interrupts /s per RT CPU", FigureUnit.PerSecond, (r, s) => r.Realtime.Interrupts / (double)rt / Seconds(s)));
        list.Add(new("collateral_ipis_per_s", "collateral IPIs /s", FigureUnit.PerSecond, (r, s) => r.CollateralIpis / Seconds(s)));
        list.Add(new("stolen_us_per_s", "CPU time stolen µs/s", FigureUnit.PerSecond, (r, s) => r.Cpus.Sum(x => x.StolenNs) / 1000.0 / Seconds(s)));
        return list;
    }

    /// <summary>Every figure of the set, operations first.</summary>
    public static IReadOnlyList<Figure> All(ReplicateSet set) =>
        [.. OperationTypes(set).SelectMany(OfOperation), .. Totals(set), .. Rates(set)];
}
