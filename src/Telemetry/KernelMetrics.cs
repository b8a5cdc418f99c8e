using System.Diagnostics.Metrics;
using Shootdown.Model.Results;

namespace Shootdown.Telemetry;

/// <summary>
/// The kernel's figures as OpenTelemetry metrics, recorded from a finished policy's result, so
/// they are the same numbers as the result files whichever engine ran. Dimensions are the
/// scenario, the policy, the IPI kind and the operation; per-CPU data stays in the result files.
/// </summary>
public static class KernelMetrics
{
    /// <summary>The R10 preferred numbers (ISO 3), one decade: declared first, as the buckets are made of them.</summary>
    private static readonly double[] R10 = [1, 1.25, 1.6, 2, 2.5, 3.15, 4, 5, 6.3, 8];

    /// <summary>
    /// Microsecond buckets from 1 µs to 100 ms, ten per decade (the R10 preferred numbers, each
    /// about 1.26 times the last), so a dashboard's percentile, interpolated inside a bucket, is
    /// within a quarter of the latency: 1-2-5 edges showed a 601 µs p99 as 1000 µs.
    /// </summary>
    private static readonly IReadOnlyList<double> LatencyBucketsUs =
        [.. Enumerable.Range(0, 5).SelectMany(decade => R10.Select(m => Math.Round(m * Math.Pow(10, decade), 2))), 100_000];

    private static readonly Counter<long> CsdsQueued = Instrumentation.Meter.CreateCounter<long>(
        "shootdown.kernel.csds.queued", "{csd}", "csds queued on remote CPUs by initiators, by kind (flush, sync)");

    private static readonly Counter<long> CsdsHandled = Instrumentation.Meter.CreateCounter<long>(
        "shootdown.kernel.csds.handled", "{csd}", "csds run by targets' call-function interrupts, by kind (flush, sync)");

    private static readonly Counter<long> IpisReceived = Instrumentation.Meter.CreateCounter<long>(
        "shootdown.kernel.ipis.received", "{ipi}", "IPIs that reached their targets (a csd added to a busy queue sends none)");

    private static readonly Counter<long> Interrupts = Instrumentation.Meter.CreateCounter<long>(
        "shootdown.kernel.interrupts", "{interrupt}", "call-function interrupts taken (CAL in /proc/interrupts)");

    private static readonly Counter<long> CollateralIpis = Instrumentation.Meter.CreateCounter<long>(
        "shootdown.kernel.ipis.collateral", "{csd}", "csds queued on CPUs outside the initiating mm's mm_cpumask");

    private static readonly Histogram<double> InitiatorLatency = Instrumentation.Meter.CreateHistogram(
        "shootdown.kernel.initiator.latency", "us", "virtual time from an operation's start to its end, on the initiator",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBucketsUs });

    private static readonly Histogram<double> RealtimeNoise = Instrumentation.Meter.CreateHistogram(
        "shootdown.kernel.realtime.noise", "us", "virtual time stolen from each isolated real-time CPU over the run",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBucketsUs });

    private static readonly Counter<long> RealtimeInterrupts = Instrumentation.Meter.CreateCounter<long>(
        "shootdown.kernel.realtime.interrupts", "{interrupt}", "call-function interrupts taken by isolated real-time CPUs");

    public static void Record(string scenario, PolicyResult result, IEnumerable<int> realtimeCpus)
    {
        var policy = new KeyValuePair<string, object?>("policy", result.Policy);
        var name = new KeyValuePair<string, object?>("scenario", scenario);
        CsdsQueued.Add(result.Ops.Sum(o => (long)o.FlushIpis), name, policy, Kind("flush"));
        CsdsQueued.Add(result.Ops.Sum(o => (long)o.SyncIpis), name, policy, Kind("sync"));
        CsdsHandled.Add(result.Cpus.Sum(c => c.CsdsHandled - c.SyncCsdsHandled), name, policy, Kind("flush"));
        CsdsHandled.Add(result.Cpus.Sum(c => c.SyncCsdsHandled), name, policy, Kind("sync"));
        IpisReceived.Add(result.IpisReceived, name, policy);
        Interrupts.Add(result.TotalInterrupts, name, policy);
        CollateralIpis.Add(result.CollateralIpis, name, policy);
        foreach (var op in result.Ops)
            InitiatorLatency.Record(op.LatencyNs / 1e3, name, policy, new("operation", KernelSpans.RootName(op.Type)));
        foreach (var cpu in realtimeCpus)
        {
            RealtimeNoise.Record(result.Cpus[cpu].StolenNs / 1e3, name, policy);
            RealtimeInterrupts.Add(result.Cpus[cpu].Cal, name, policy);
        }
    }

    private static KeyValuePair<string, object?> Kind(string kind) => new("kind", kind);
}
