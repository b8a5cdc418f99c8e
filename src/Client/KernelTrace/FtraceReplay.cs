using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;
using Shootdown.Client.Api;
using Shootdown.Model.Workload;
using Shootdown.Scenarios;

namespace Shootdown.Client.KernelTrace;

/// <summary>A flush or sync operation rebuilt from a trace: who started it, when, how many pages, and which CPUs its flush reached.</summary>
public sealed record ReplayedOp(int Cpu, long TimeNs, OpType Type, int Pages, ImmutableArray<int> FlushTargets);

/// <summary>What <see cref="FtraceReplay.Read"/> found in a trace file.</summary>
public sealed record CapturedTrace(string File, int? CpuCount, ImmutableArray<ReplayedOp> Ops, int HighestCpu, int OrphanEvents);

/// <summary>
/// <c>shootdown replay</c>: reads an ftrace text trace (the <c>trace</c> file, or <c>trace-cmd
/// report</c> output) with <c>tlb:tlb_flush</c> and <c>csd:csd_queue_cpu</c> events from an x86
/// kernel without the series, and rebuilds its operations, per initiating CPU in time order:
/// <list type="bullet">
/// <item><c>tlb_flush reason:remote ipi send (4)</c> opens a flush (native_flush_tlb_multi); its
/// <c>csd_queue_cpu func=flush_tlb_func</c> lines are the CPUs it reached; a following
/// <c>reason:local mm shootdown (3)</c> is its SCF_RUN_LOCAL part.</item>
/// <item>Otherwise <c>reason:local mm shootdown (3)</c> is a flush of an mm loaded only here.</item>
/// <item><c>csd_queue_cpu func=tlb_remove_table_smp_sync</c> lines after a flush on the same CPU are
/// that operation's sync (flush then sync: collapse, unshare, the munmap fallback); without a
/// flush before them, a sync with no flush. A CPU queued twice starts a new sync.</item>
/// </list>
/// The trace names neither the mm nor the caller, so a flush-then-sync replays as
/// <c>collapse_huge_page</c>, and every operation acts on one process. Events of operations
/// that began before the trace (a csd with no opening line) are counted and skipped.
/// </summary>
public static partial class FtraceReplay
{
    [GeneratedRegex(@"^\s*(?<task>.+?)-(?<pid>\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(?<cpu>\d+)\]\s+(?:[a-zA-Z0-9.]{4,5}\s+)?(?<ts>\d+\.\d+):\s+(?:\w+:)?(?<event>\w+):\s*(?<body>.*)$")]
    private static partial Regex LinePattern();

    [GeneratedRegex(@"^pages:(?<pages>-?\d+) reason:.* \((?<reason>\d+)\)$")]
    private static partial Regex TlbFlushPattern();

    [GeneratedRegex(@"^cpu=(?<cpu>\d+) callsite=\S+ func=(?<func>[\w.]+) csd=\S+$")]
    private static partial Regex CsdQueuePattern();

    [GeneratedRegex(@"#P:(?<n>\d+)")]
    private static partial Regex CpuCountPattern();

    private const int MaxCpus = 65_536, MaxOps = 10_000_000;
    private const long MaxTraceBytes = 1L << 30;

    private sealed class Open(int cpu, long time, int pages, bool remote)
    {
        public int Cpu { get; } = cpu;
        public long Time { get; } = time;
        public int Pages { get; } = pages;
        public bool Flush { get; init; } = true;
        public bool Remote { get; } = remote;
        public bool LocalDone { get; set; }
        public List<int> FlushTargets { get; } = new();
        public HashSet<int>? SyncTargets { get; set; }
    }

    public static CapturedTrace Read(string file)
    {
        int? cpuCount = null;
        var highest = -1;
        var orphans = 0;
        var open = new Dictionary<int, Open>();
        var ops = new List<ReplayedOp>();
        var lineNo = 0;
        var lastTime = long.MinValue;
        foreach (var line in InputFiles.ReadLines(file, MaxTraceBytes, "a trace", InputFiles.AtFile(file)))
        {
            lineNo++;
            if (line.StartsWith('#'))
            {
                if (CpuCountPattern().Match(line) is { Success: true } p) cpuCount = Number(p.Groups["n"], file, lineNo, "#P", 1, MaxCpus);
                continue;
            }
            if (line.Trim().Length == 0) continue;
            var m = LinePattern().Match(line);
            if (!m.Success) throw new ScenarioException(file, lineNo, 1, "(line)", "not an ftrace event line (TASK-PID [CPU] TIMESTAMP: EVENT: FIELDS)");
            var evt = m.Groups["event"].Value;
            if (evt is not ("tlb_flush" or "csd_queue_cpu")) continue;
            var cpu = Number(m.Groups["cpu"], file, lineNo, "CPU", 0, MaxCpus - 1);
            var time = Timestamp(m.Groups["ts"], file, lineNo);
            // ftrace's text output merges the per-CPU buffers in time order; a timestamp that goes
            // back means concatenated captures or raw per-CPU buffers, which would pair events wrongly.
            if (time < lastTime)
                throw new ScenarioException(file, lineNo, m.Groups["ts"].Index + 1, "TIMESTAMP",
                    $"goes back in time ({FormatSeconds(time)} after {FormatSeconds(lastTime)}): give one capture, in time order (trace or trace-cmd report output)");
            lastTime = time;
            var body = m.Groups["body"];
            highest = Math.Max(highest, cpu);
            open.TryGetValue(cpu, out var op);
            if (evt == "tlb_flush")
            {
                var f = TlbFlushPattern().Match(body.Value);
                if (!f.Success) throw new ScenarioException(file, lineNo, body.Index + 1, "tlb_flush", "expected 'pages:N reason:TEXT (R)'");
                var pages = Number(f.Groups["pages"], file, lineNo, "tlb_flush.pages", -1, int.MaxValue);
                var reason = Number(f.Groups["reason"], file, lineNo, "tlb_flush.reason", 0, 5);
                if (reason == 4)
                {
                    Close(op, ops);
                    open[cpu] = new Open(cpu, time, pages, remote: true);
                }
                else if (reason == 3)
                {
                    if (op is { Remote: true, LocalDone: false, SyncTargets: null }) op.LocalDone = true;
                    else
                    {
                        Close(op, ops);
                        open[cpu] = new Open(cpu, time, pages, remote: false);
                    }
                }
                continue;
            }
            var q = CsdQueuePattern().Match(body.Value);
            if (!q.Success) throw new ScenarioException(file, lineNo, body.Index + 1, "csd_queue_cpu", "expected 'cpu=N callsite=S func=F csd=P'");
            var target = Number(q.Groups["cpu"], file, lineNo, "csd_queue_cpu.cpu", 0, MaxCpus - 1);
            highest = Math.Max(highest, target);
            switch (q.Groups["func"].Value)
            {
                case "flush_tlb_func":
                    if (op is { Remote: true, SyncTargets: null }) op.FlushTargets.Add(target);
                    else orphans++;
                    break;
                case "tlb_remove_table_smp_sync":
                    if (op is null || (op.SyncTargets is { } seen && seen.Contains(target)))
                    {
                        Close(op, ops);
                        open[cpu] = op = new Open(cpu, time, 0, remote: false) { Flush = false };
                    }
                    (op.SyncTargets ??= new HashSet<int>()).Add(target);
                    break;
            }
            if (ops.Count > MaxOps) throw new ScenarioException(file, lineNo, 1, "(file)", $"more than {MaxOps:N0} operations");
        }
        foreach (var op in open.Values) Close(op, ops);
        if (cpuCount is { } n && highest >= n)
            throw new ScenarioException(file, 0, 0, "#P", $"the header says {n} CPUs but the trace names CPU {highest}");
        if (ops.Count == 0) throw new ScenarioException(file, 0, 0, "(file)", "no flush or sync operations: the trace needs tlb:tlb_flush and csd:csd_queue_cpu events");
        ops.Sort((a, b) => a.TimeNs != b.TimeNs ? a.TimeNs.CompareTo(b.TimeNs) : a.Cpu.CompareTo(b.Cpu));
        return new CapturedTrace(file, cpuCount, [.. ops], highest, orphans);
    }

    private static void Close(Open? op, List<ReplayedOp> ops)
    {
        if (op is null) return;
        var type = !op.Flush ? OpType.SyncWithoutFlush : op.SyncTargets is not null ? OpType.CollapseHugePage : OpType.FlushRange;
        // pages:-1 is TLB_FLUSH_ALL (more than tlb_single_page_flush_ceiling, or a full flush); 0 is "nothing to do".
        var pages = op.Pages switch { < 0 => 512, 0 => 1, var p => p };
        ops.Add(new ReplayedOp(op.Cpu, op.Time, type, pages, op.Flush ? [.. op.FlushTargets.Distinct().Order()] : []));
    }

    /// <summary>
    /// The scenario that replays <paramref name="trace"/> on <paramref name="machine"/> (a preset,
    /// an hwloc synthetic spec or a topology file; by default a flat machine of the traced size).
    /// One process, <c>captured</c>, runs on every CPU the operations touched, so each replayed
    /// flush really invalidates there; the syncs go wherever each policy sends them. Time starts
    /// 1 µs before the first operation.
    /// </summary>
    public static Scenario ToScenario(CapturedTrace trace, string? machine, IReadOnlyList<string> policies)
    {
        var builder = Builder(trace, machine, policies);
        try
        {
            return builder.Build();
        }
        catch (ScenarioException e) when (e.File.StartsWith("script:", StringComparison.Ordinal))
        {
            // The scenario replay builds is internal: say what it means for the trace.
            throw new ScenarioException(trace.File, 0, 0, "(file)",
                $"its {trace.Ops.Length:N0} operations make a scenario the loader refuses ({e.Field}: {e.Problem}); replay a shorter part of the trace");
        }
    }

    /// <summary>The same scenario as a YAML file, to keep or edit.</summary>
    public static string ToYaml(CapturedTrace trace, string? machine, IReadOnlyList<string> policies) =>
        Builder(trace, machine, policies).ToYaml();

    private static ScenarioBuilder Builder(CapturedTrace trace, string? machine, IReadOnlyList<string> policies)
    {
        var cpus = trace.CpuCount ?? trace.HighestCpu + 1;
        machine ??= $"pack:1 numa:1 core:{cpus} pu:1";
        ScenarioBuilder Base() => File.Exists(machine)
            ? ScenarioBuilder.OnTopologyFile(machine, name: $"replay of {Path.GetFileName(trace.File)}")
            : ScenarioBuilder.On(machine, name: $"replay of {Path.GetFileName(trace.File)}");
        var size = Base().DurationUs(1).Process("probe", "0").Build().Machine.CpuCount;
        if (trace.HighestCpu >= size)
            throw new ScenarioException(trace.File, 0, 0, "--machine", $"the trace names CPU {trace.HighestCpu}; {machine} has CPUs 0-{size - 1}");
        var used = trace.Ops.SelectMany(o => o.FlushTargets.Prepend(o.Cpu)).Distinct().Order();
        var first = trace.Ops[0].TimeNs - 1000;
        var last = trace.Ops[^1].TimeNs - first;
        var b = Base()
            .Description($"{trace.Ops.Length} operations replayed from {Path.GetFileName(trace.File)}")
            .DurationUs(Math.Ceiling(last / 1000.0) + 1000)
            .Policies([.. policies])
            .Process("captured", CpuList.Format(used));
        foreach (var op in trace.Ops)
            b.ReplayedOperation(OpTypeNames.Scenario.NameOf(op.Type), "captured", op.Cpu, (op.TimeNs - first) / 1000.0, op.Pages,
                op.Type == OpType.SyncWithoutFlush ? null : CpuList.Format(op.FlushTargets));
        return b;
    }

    private static int Number(Group g, string file, int line, string field, long min, long max)
    {
        if (!long.TryParse(g.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
            throw new ScenarioException(file, line, g.Index + 1, field, $"'{g.Value}' is out of range ({min} to {max})");
        return (int)v;
    }

    private static string FormatSeconds(long ns) =>
        $"{(ns / 1_000_000_000).ToString(CultureInfo.InvariantCulture)}.{(ns % 1_000_000_000).ToString("D9", CultureInfo.InvariantCulture)} s";

    /// <summary>SECONDS.FRACTION (microseconds from the local clock, nanoseconds with trace_clock=global and the ns option).</summary>
    private static long Timestamp(Group g, string file, int line)
    {
        var parts = g.Value.Split('.');
        var fraction = parts[1].Length > 9 ? null : parts[1].PadRight(9, '0');
        if (fraction is null || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var s) || s > 1_000_000)
            throw new ScenarioException(file, line, g.Index + 1, "TIMESTAMP", $"'{g.Value}' is not a timestamp in seconds");
        return s * 1_000_000_000 + long.Parse(fraction, CultureInfo.InvariantCulture);
    }
}
