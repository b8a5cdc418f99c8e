using System.Collections.Immutable;
using Shootdown.Model.Workload;

namespace Shootdown.Scenarios;

/// <summary>One part of a run's size: what in the scenario asks for it, and how much.</summary>
/// <param name="Field">The scenario field that sets it (<c>processes[2].threads</c>), for the line that refuses it.</param>
/// <param name="What">The part in words: <c>100,000 threads</c>.</param>
public sealed record EstimateTerm(string Field, string What, double Events, double Bytes);

/// <summary>
/// How many events one policy's run of a scenario will process and how much memory it will hold,
/// estimated from the scenario alone, before anything runs: what <c>validate</c> prints, and what
/// <c>run</c> checks against the memory this process may use (<see cref="Admit"/>).
/// <para>
/// Events: each target of a broadcast costs a few events (the csd queued and answered, the IPI
/// raised and dispatched, the ack; fewer for an idle target woken by need_resched), a flush
/// reaching the process's CPUs and a sync every other CPU (the baseline kernel, the larger); a
/// thread that runs and sleeps costs two events a period. Memory: the machine's CPUs, the
/// threads, each operation's record and each target's record of its call, which the run keeps
/// for its results and digest. The constants were measured on the shipped scenarios (managed heap
/// after setup, at the run's peak and after it; <c>RunEstimateTests</c> holds the estimate to
/// within a factor of three of the events and memory actually used, so a model change that moves
/// them fails there first).
/// </para>
/// </summary>
/// <param name="ResultBytes">What the finished run's result keeps: every policy's per-CPU counters and operation records.</param>
public sealed record RunEstimate(double Events, double Bytes, double ResultBytes, ImmutableArray<EstimateTerm> Terms)
{
    /// <summary>Events per target of a broadcast (measured: 3.1 on storm-8192, 3.8 on khugepaged-4096).</summary>
    public const double EventsPerTarget = 3.5;
    /// <summary>Events per operation besides its targets (arrival, steps, cpumask reads).</summary>
    public const double EventsPerOperation = 10;
    /// <summary>Events per run/sleep period of a thread (sleep, wake; 1.6 M events for 100,000 threads × 8 periods).</summary>
    public const double EventsPerThreadPeriod = 2;

    /// <summary>A CPU's model state, queues and counters (measured: 1,465 bytes on 8,192 and 65,536 CPUs).</summary>
    public const double BytesPerCpu = 1_500;
    /// <summary>A thread's scheduler state (measured: 280 bytes with 100,000 threads).</summary>
    public const double BytesPerThread = 300;
    /// <summary>
    /// What every target of every operation leaves in the engine until the run ends (measured:
    /// 38 bytes on hugetlb-unshare-4096, 64 broadcasts to 4,095 CPUs leaving 10 MB).
    /// </summary>
    public const double BytesPerTarget = 40;
    /// <summary>
    /// What one target of a broadcast in flight holds besides (csds queued, events, the blocks that
    /// queue them, which the engine keeps pooled for the rest of the run). Measured with
    /// <see cref="BytesPerTarget"/>: 290 bytes in all on storm-8192 (256 initiators, one broadcast
    /// each to 8,447 CPUs: 630 MB), 300 on storm-65536 (64 initiators, 65,599 CPUs each: 1.25 GB),
    /// when the reference engine kept each handler's sends in an array of their own; since its radix
    /// queue, storm-8192 peaks at 390 MB, so the estimate errs long, as it may.
    /// </summary>
    public const double BytesPerTargetInFlight = 260;
    /// <summary>An operation's record and its share of the lists that hold it (measured: 400 bytes with 2,000 flushes on small-64).</summary>
    public const double BytesPerOperation = 400;
    /// <summary>A CPU's counters in a finished run's result (a CpuCounters record and its slot), kept per policy and replicate.</summary>
    public const double BytesPerCpuResult = 150;
    /// <summary>What the runtime and the tool hold before any run (the process's own baseline).</summary>
    public const double BaseBytes = 80e6;

    /// <summary>One policy's run of <paramref name="scenario"/>.</summary>
    public static RunEstimate Of(Scenario scenario)
    {
        var n = scenario.Machine.CpuCount;
        var workload = scenario.Workload;
        var terms = ImmutableArray.CreateBuilder<EstimateTerm>();
        terms.Add(new EstimateTerm("machine", $"{n:N0} CPUs", 0, n * BytesPerCpu));

        for (var p = 0; p < workload.Processes.Length; p++)
        {
            var process = workload.Processes[p];
            var periods = process.RunMeanNs is { } run && process.SleepMeanNs is { } sleep && run + sleep > 0
                ? scenario.DurationNs / (run + sleep)
                : 1;
            var migrations = process.MigrateMeanNs is { } migrate && migrate > 0 ? scenario.DurationNs / migrate : 0;
            terms.Add(new EstimateTerm($"processes[{p}].threads", $"{process.Threads:N0} threads of {process.Name}",
                process.Threads * (EventsPerThreadPeriod * periods + 2 * migrations), process.Threads * BytesPerThread));
        }

        var streams = workload.Operations;
        // Back-to-back streams of one CPU follow each other: initiators, not streams, broadcast at once.
        var backToBackInitiators = streams.Where(s => s.BackToBack).Select(s => s.Cpu).Distinct().Count();
        var initiatorsInFlight = new HashSet<int>();
        var widest = (Targets: 0.0, Term: -1);
        var operations = 0.0;
        var entries = Entries(streams);
        for (var entry = 0; entry < entries.Count; entry++)
        {
            double events = 0, bytes = 0;
            foreach (var stream in entries[entry])
            {
                var ops = Operations(stream, scenario.DurationNs, n, backToBackInitiators);
                var targets = Targets(stream, scenario, n);
                operations += ops;
                events += ops * (EventsPerOperation + EventsPerTarget * targets);
                bytes += ops * (BytesPerOperation + BytesPerTarget * targets);
                // In flight at once: one broadcast of each back-to-back initiator, and the largest of the others'.
                if (stream.BackToBack && initiatorsInFlight.Add(stream.Cpu)) bytes += targets * BytesPerTargetInFlight;
                if (!stream.BackToBack && targets > widest.Targets) widest = (targets, terms.Count);
            }
            var first = entries[entry][0];
            var field = first.RatePerSecond is not null ? $"operations[{entry}].rate_per_s" : $"operations[{entry}]";
            terms.Add(new EstimateTerm(field, $"{OpTypeNames.Scenario.NameOf(first.Type)} operations", events, bytes));
        }
        if (widest.Term >= 0)
            terms[widest.Term] = terms[widest.Term] with { Bytes = terms[widest.Term].Bytes + widest.Targets * BytesPerTargetInFlight };
        for (var w = 0; w < workload.Walkers.Length; w++)
        {
            var walker = workload.Walkers[w];
            var walks = walker.Cpus.Length * scenario.DurationNs / Math.Max(1, walker.MeanIntervalNs);
            terms.Add(new EstimateTerm($"walkers[{w}].mean_interval_us", "lockless walks", 2 * walks, walks * BytesPerOperation));
        }
        var all = terms.ToImmutable();
        var result = scenario.Policies.Length * (n * BytesPerCpuResult + operations * BytesPerOperation);
        return new RunEstimate(all.Sum(t => t.Events), all.Sum(t => t.Bytes), result, all);
    }

    /// <summary>The scenario's operation entries: a YAML operation with several CPUs became consecutive streams alike but for the CPU.</summary>
    private static List<List<OpStreamSpec>> Entries(ImmutableArray<OpStreamSpec> streams)
    {
        var entries = new List<List<OpStreamSpec>>();
        foreach (var stream in streams)
        {
            if (entries.Count > 0 && SameEntry(entries[^1][0], stream)) entries[^1].Add(stream);
            else entries.Add([stream]);
        }
        return entries;
    }

    private static bool SameEntry(OpStreamSpec a, OpStreamSpec b) =>
        a.Type == b.Type && a.Process == b.Process && a.Pages == b.Pages && a.RatePerSecond == b.RatePerSecond && a.BackToBack == b.BackToBack
        && a.StartNs == b.StartNs && a.Count == b.Count && a.AtNs.SequenceEqual(b.AtNs) && a.Khugepaged == b.Khugepaged;

    /// <summary>
    /// How many operations a stream issues: its rate over its time, its explicit times, its count
    /// when back to back, or back to back for its whole time. A back-to-back operation lasts at
    /// least its sync's loop over every CPU (30 ns a target), and at least as long as each target
    /// takes to handle the csds of every initiator broadcasting at once (about 4 µs each: entry,
    /// exit, handler): storm-8192's 256 initiators issue one operation each in its 1 ms, storm-65536's
    /// 64 one each. Each stream issues its first operation at least.
    /// </summary>
    private static double Operations(OpStreamSpec stream, long durationNs, int cpus, int backToBackInitiators)
    {
        var span = Math.Max(0, durationNs - stream.StartNs);
        // A back-to-back stream with a count issues that many, however long they take.
        if (stream is { BackToBack: true, Count: { } all }) return all;
        double ops = stream.RatePerSecond is { } rate ? rate * span / 1e9
            : !stream.AtNs.IsDefaultOrEmpty ? stream.AtNs.Length
            : stream.Khugepaged is { } khugepaged ? khugepaged.MostCollapses(span)
            : stream.BackToBack ? Math.Max(1, span / Math.Max(30.0 * cpus, 4_000.0 * backToBackInitiators))
            : 0;
        return stream.Count is { } count ? Math.Min(ops, count) : ops;
    }

    /// <summary>The CPUs one operation of the stream interrupts, at most: its process's CPUs for the flush, every other CPU for a sync.</summary>
    private static double Targets(OpStreamSpec stream, Scenario scenario, int cpus)
    {
        var flush = stream.FlushTargets?.Length ?? scenario.Workload.Processes[stream.Process].Cpus.Length;
        var sync = stream.Type switch
        {
            OpType.FlushRange => 0,
            OpType.MunmapFreeTables => stream.BatchAllocFailProbability * (cpus - 1),
            _ => cpus - 1,
        };
        return flush + sync;
    }

    /// <summary>The term that asks for the most memory.</summary>
    public EstimateTerm Largest => Terms.MaxBy(t => t.Bytes)!;

    /// <summary>
    /// Whether runs of this size fit in <paramref name="available"/> bytes: <paramref name="concurrent"/>
    /// of them at once, each costing <paramref name="overhead"/> times its model state (the grain
    /// engine copies what it sends), with <paramref name="keptResults"/> results kept until the
    /// end. Null if they do, else the one line that says why not, naming what asks for the most.
    /// </summary>
    public string? Admit(long available, int concurrent = 1, double overhead = 1, int keptResults = 1)
    {
        var runs = concurrent * overhead * Bytes;
        var results = keptResults * ResultBytes;
        var need = BaseBytes + runs + results;
        if (need <= available) return null;
        var tail = $"about {Format.Bytes(need)} in all, and this process may use {Format.Bytes(available)} (lower it, or run on a larger machine)";
        if (results > runs)
            return $"--seeds: {keptResults:N0} results of {Format.Bytes(ResultBytes)} each are kept until the end; {tail}";
        var largest = Largest;
        var each = concurrent > 1 ? $"{concurrent} runs at once; " : "";
        return $"{largest.Field}: {largest.What} need about {Format.Bytes(largest.Bytes * overhead)}; {each}{tail}";
    }

    /// <summary>What <c>validate</c> says about the size: events and memory of one policy's run.</summary>
    public string Describe() => $"about {Format.Count(Events)} events and {Format.Bytes(BaseBytes + Bytes)} per policy";

    /// <summary>Numbers as the estimate states them: two significant digits, since that is all it knows.</summary>
    public static class Format
    {
        public static string Count(double value) => value switch
        {
            >= 1e9 => $"{value / 1e9:0.#} billion",
            >= 1e6 => $"{value / 1e6:0.#} million",
            >= 1e3 => $"{Round(value):N0}",
            _ => $"{value:0}",
        };

        public static string Bytes(double value) => value switch
        {
            >= 1e12 => $"{value / 1e12:0.#} TB",
            >= 1e9 => $"{value / 1e9:0.#} GB",
            >= 1e6 => $"{value / 1e6:0} MB",
            _ => $"{value / 1e3:0} kB",
        };

        private static double Round(double value)
        {
            var scale = Math.Pow(10, Math.Floor(Math.Log10(value)) - 1);
            return Math.Round(value / scale) * scale;
        }
    }
}
