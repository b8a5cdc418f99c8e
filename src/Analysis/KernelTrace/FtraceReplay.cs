using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;
using Shootdown.Model.Workload;
using Shootdown.Scenarios;

namespace Shootdown.Analysis.KernelTrace;

/// <summary>A flush or sync operation rebuilt from a trace: who started it, when, how many pages, and which CPUs its flush reached.</summary>
public sealed record ReplayedOp(int Cpu, long TimeNs, OpType Type, int Pages, ImmutableArray<int> FlushTargets);

/// <summary>What <see cref="FtraceReplay.Read"/> found in a trace file.</summary>
public sealed record CapturedTrace(string File, int? CpuCount, ImmutableArray<ReplayedOp> Ops, int HighestCpu, int OrphanEvents)
{
    /// <summary>Whether the operations come from <c>ipi:ipi_send_*</c> events alone (no <c>csd:csd_queue_cpu</c> in the trace).</summary>
    public bool FromIpiEvents { get; init; }

    /// <summary>Call-function IPIs of other callers (do_sync_core, nohz_full_kick_func…), counted and not replayed.</summary>
    public ImmutableArray<BackgroundIpis> Background { get; init; } = [];

    /// <summary>IPI events with an empty mask.</summary>
    public int EmptyMasks { get; init; }

    /// <summary>Replayed IPIs told apart by their callsite alone (no callback function, no function_graph context).</summary>
    public int ByCallsiteOnly { get; init; }
}

/// <summary>IPIs of one other caller, as the trace names it.</summary>
public sealed record BackgroundIpis(string Caller, int Ipis);

/// <summary>How <c>ipi_send_cpumask</c> prints its mask: the <c>trace</c> file's hex bitmap, or <c>trace-cmd report</c>'s CPU list.</summary>
public enum CpumaskFormat
{
    /// <summary>From the file's header: <c># tracer:</c> means hex, trace-cmd's <c>cpus=N</c> means a list; a range (<c>0-3</c>) is always a list.</summary>
    Auto,
    Hex,
    List,
}

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
/// <para>
/// A trace without <c>csd_queue_cpu</c> events (most captures in bug reports) is rebuilt from
/// <c>ipi:ipi_send_cpumask</c> and <c>ipi:ipi_send_cpu</c> (<see cref="IpiCall"/>): each IPI is a
/// flush, a sync or another caller's, told apart by its callback, its function_graph context,
/// or its callsite; a flush's targets are the CPUs its IPI reached; the other callers' IPIs are
/// counted as background. <c>flush_tlb_all()</c>'s (<c>on_each_cpu(do_flush_tlb_all)</c>,
/// arch/x86/mm/tlb.c) are TLB flush broadcasts too: each replays as a full flush of the CPUs it
/// reached, with no sync after it, from its IPI or from its <c>csd_queue_cpu</c> lines. Lines may come from the <c>trace</c> file, <c>trace-cmd report</c>, or
/// the function_graph tracer with <c>funcgraph-abstime</c>, where events are <c>/* … */</c> comments.
/// </para>
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

    /// <summary>trace-cmd report's header lines: <c>cpus=N</c>, <c>version = N</c>, <c>CPU N is empty</c>.</summary>
    [GeneratedRegex(@"^(?:cpus=(?<n>\d+)|version = \d+|CPU \d+ is empty|CPU:\d+ \[LOST \d+ EVENTS\])\s*$")]
    private static partial Regex TraceCmdHeaderPattern();

    /// <summary>A function_graph line with funcgraph-abstime: <c>TIMESTAMP |  CPU) [TASK-PID |] DURATION |  BODY</c>.</summary>
    [GeneratedRegex(@"^\s*(?<ts>\d+\.\d+)\s*\|\s*(?<cpu>\d+)\)\s*(?:[^|]*\|){1,2}\s*(?<body>.*?)\s*$")]
    private static partial Regex FunctionGraphPattern();

    /// <summary>A function_graph line without timestamps.</summary>
    [GeneratedRegex(@"^\s*\d+\)\s*(?:[^|]*\|){1,2}")]
    private static partial Regex FunctionGraphNoTimePattern();

    /// <summary>function_graph's separators and context switches (<c>------</c>, <c>3) bash-1 =&gt; kworker-2</c>).</summary>
    [GeneratedRegex(@"^\s*(?:-{10,}|\d+\)\s+\S+\s+=>\s+\S+)\s*$")]
    private static partial Regex FunctionGraphMarkerPattern();

    [GeneratedRegex(@"^/\*\s*(?<event>\w+):\s*(?<body>.*?)\s*\*/$")]
    private static partial Regex GraphEventPattern();

    [GeneratedRegex(@"^(?<fn>[\w.]+)\(\)\s*\{$")]
    private static partial Regex GraphEntryPattern();

    [GeneratedRegex(@"^(?:cpumask=(?<mask>\S*)|cpu=(?<cpu>\d+))\s+callsite=(?<callsite>\S+)\s+callback=(?<callback>\S+)$")]
    private static partial Regex IpiSendPattern();

    private const int MaxCpus = 65_536, MaxOps = 10_000_000;
    private const long MaxTraceBytes = 1L << 30;

    private sealed class Open(int cpu, long time, int pages, bool remote)
    {
        public int Cpu { get; } = cpu;
        public long Time { get; } = time;
        public int Pages { get; } = pages;
        public bool Flush { get; init; } = true;
        /// <summary>flush_tlb_all(): every CPU's whole TLB; no sync follows it.</summary>
        public bool FlushAll { get; init; }
        public bool Remote { get; } = remote;
        public bool LocalDone { get; set; }
        public List<int> FlushTargets { get; } = new();
        public HashSet<int>? SyncTargets { get; set; }
    }

    public static CapturedTrace Read(string file, CpumaskFormat cpumaskFormat = CpumaskFormat.Auto)
    {
        int? cpuCount = null;
        var highest = -1;
        var orphans = 0;
        var open = new Dictionary<int, Open>();
        var ops = new List<ReplayedOp>();
        var ipis = new IpiCalls(file);
        var graphStacks = new Dictionary<int, List<string>>();
        var lineNo = 0;
        var lastTime = long.MinValue;
        foreach (var line in InputFiles.ReadLines(file, MaxTraceBytes, "a trace", InputFiles.AtFile(file)))
        {
            lineNo++;
            if (line.StartsWith('#'))
            {
                if (CpuCountPattern().Match(line) is { Success: true } p) cpuCount = Number(p.Groups["n"], file, lineNo, "#P", 1, MaxCpus);
                if (line.StartsWith("# tracer:", StringComparison.Ordinal) && cpumaskFormat == CpumaskFormat.Auto) cpumaskFormat = CpumaskFormat.Hex;
                continue;
            }
            if (line.Trim().Length == 0) continue;
            if (TraceCmdHeaderPattern().Match(line) is { Success: true } header)
            {
                if (header.Groups["n"].Success)
                {
                    cpuCount = Number(header.Groups["n"], file, lineNo, "cpus", 1, MaxCpus);
                    if (cpumaskFormat == CpumaskFormat.Auto) cpumaskFormat = CpumaskFormat.List;
                }
                continue;
            }
            Group cpuGroup, tsGroup, body;
            string evt;
            IReadOnlyList<string>? graphContext = null;
            var m = LinePattern().Match(line);
            if (m.Success)
            {
                (cpuGroup, tsGroup, body, evt) = (m.Groups["cpu"], m.Groups["ts"], m.Groups["body"], m.Groups["event"].Value);
            }
            else if (FunctionGraphPattern().Match(line) is { Success: true } g)
            {
                // function_graph: keep each CPU's call stack; an event is a /* … */ comment inside it.
                var graphCpu = Number(g.Groups["cpu"], file, lineNo, "CPU", 0, MaxCpus - 1);
                var stack = graphStacks.TryGetValue(graphCpu, out var st) ? st : graphStacks[graphCpu] = new List<string>();
                var text = g.Groups["body"].Value;
                if (GraphEntryPattern().Match(text) is { Success: true } entry)
                {
                    stack.Add(entry.Groups["fn"].Value);
                    continue;
                }
                if (text.StartsWith('}'))
                {
                    if (stack.Count > 0) stack.RemoveAt(stack.Count - 1);
                    continue;
                }
                if (GraphEventPattern().Match(text) is not { Success: true } comment) continue;
                (cpuGroup, tsGroup, body, evt) = (g.Groups["cpu"], g.Groups["ts"], comment.Groups["body"], comment.Groups["event"].Value);
                graphContext = stack;
            }
            else if (FunctionGraphMarkerPattern().IsMatch(line))
            {
                continue;
            }
            else if (FunctionGraphNoTimePattern().IsMatch(line))
            {
                throw new ScenarioException(file, lineNo, 1, "(line)", "function_graph output without timestamps: capture with the funcgraph-abstime option");
            }
            else
            {
                throw new ScenarioException(file, lineNo, 1, "(line)", "not an ftrace event line (TASK-PID [CPU] TIMESTAMP: EVENT: FIELDS)");
            }
            if (evt is not ("tlb_flush" or "csd_queue_cpu" or "ipi_send_cpumask" or "ipi_send_cpu")) continue;
            var cpu = Number(cpuGroup, file, lineNo, "CPU", 0, MaxCpus - 1);
            var time = Timestamp(tsGroup, file, lineNo);
            // ftrace's text output merges the per-CPU buffers in time order; a timestamp that goes
            // back means concatenated captures or raw per-CPU buffers, which would pair events wrongly.
            if (time < lastTime)
                throw new ScenarioException(file, lineNo, tsGroup.Index + 1, "TIMESTAMP",
                    $"goes back in time ({FormatSeconds(time)} after {FormatSeconds(lastTime)}): give one capture, in time order (trace or trace-cmd report output)");
            lastTime = time;
            highest = Math.Max(highest, cpu);
            open.TryGetValue(cpu, out var op);
            if (evt is "ipi_send_cpumask" or "ipi_send_cpu")
            {
                var ipi = IpiSendPattern().Match(body.Value);
                if (!ipi.Success) throw new ScenarioException(file, lineNo, body.Index + 1, evt, "expected 'cpumask=MASK callsite=S callback=F' (or 'cpu=N callsite=S callback=F')");
                var targets = ipi.Groups["mask"].Success
                    ? Cpumask(ipi.Groups["mask"], cpumaskFormat, file, lineNo)
                    : [Number(ipi.Groups["cpu"], file, lineNo, "ipi_send_cpu.cpu", 0, MaxCpus - 1)];
                foreach (var t in targets) highest = Math.Max(highest, t);
                // A flush's pages come from its tlb_flush line, when the capture has one.
                var pages = op is { Remote: true, SyncTargets: null, FlushTargets.Count: 0 } ? ReplayPages(op.Pages) : 1;
                ipis.Add(cpu, time, targets, Classify(ipi.Groups["callback"].Value, graphContext, ipi.Groups["callsite"].Value), pages);
                continue;
            }
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
                    if (op is { Remote: true, LocalDone: false, SyncTargets: null, FlushAll: false }) op.LocalDone = true;
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
                    if (op is { Remote: true, SyncTargets: null, FlushAll: false }) op.FlushTargets.Add(target);
                    else orphans++;
                    break;
                case "do_flush_tlb_all":
                    // One on_each_cpu() queues its CPUs once each, in CPU order (for_each_cpu()): a CPU
                    // not above the last one queued starts the next call.
                    if (op is not { FlushAll: true } || target <= op.FlushTargets[^1])
                    {
                        Close(op, ops);
                        open[cpu] = op = new Open(cpu, time, -1, remote: true) { FlushAll = true };
                    }
                    op.FlushTargets.Add(target);
                    break;
                case "tlb_remove_table_smp_sync":
                    if (op is null || op.FlushAll || (op.SyncTargets is { } seen && seen.Contains(target)))
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
        // csd_queue_cpu names every CPU a call queued a csd on; without it, the IPIs are what the trace has.
        var ipiOps = ipis.Close();
        var fromIpis = ops.All(o => o.Type == OpType.FlushRange && o.FlushTargets.IsEmpty) && ipiOps.Count > 0;
        if (fromIpis) ops = ipiOps;
        if (ops.Count == 0)
            throw new ScenarioException(file, 0, 0, "(file)",
                "no flush or sync operations: the trace needs tlb:tlb_flush and csd:csd_queue_cpu events, or ipi:ipi_send_cpumask and ipi:ipi_send_cpu");
        ops.Sort((a, b) => a.TimeNs != b.TimeNs ? a.TimeNs.CompareTo(b.TimeNs) : a.Cpu.CompareTo(b.Cpu));
        return new CapturedTrace(file, cpuCount, [.. ops], highest, orphans)
        {
            FromIpiEvents = fromIpis,
            Background = ipis.Background,
            EmptyMasks = ipis.EmptyMasks,
            ByCallsiteOnly = fromIpis ? ipis.ByCallsiteOnly : 0,
        };
    }

    /// <summary>Whose call-function IPI this is: a flush, flush_tlb_all()'s broadcast, the sync, or another caller.</summary>
    private enum IpiCaller { Flush, FlushAll, Sync, Other }

    /// <summary>What an IPI was sent for, and what told.</summary>
    private readonly record struct IpiCall(IpiCaller Caller, string Name, bool ByCallsite);

    /// <summary>The generic handlers mainline names as every call-function IPI's callback.</summary>
    private static bool IsGenericHandler(string function) => function.StartsWith("generic_smp_call_function", StringComparison.Ordinal);

    /// <summary>
    /// Whose IPI: a callback that names the csd's function says it (some kernels and the series'
    /// early versions print it); else the function_graph context (native_flush_tlb_multi,
    /// flush_tlb_mm_range or tlb_remove_table_sync_one on the stack); else the callsite, which in
    /// mainline is smp_call_function_many_cond()'s caller: on_each_cpu_cond_mask for a flush,
    /// smp_call_function(_many) for the sync. Other on_each_cpu() users share that callsite;
    /// <see cref="CapturedTrace.ByCallsiteOnly"/> says how many were told apart that way.
    /// </summary>
    private static IpiCall Classify(string callback, IReadOnlyList<string>? graphContext, string callsite)
    {
        var func = Symbol(callback);
        if (!IsGenericHandler(func))
            return func switch
            {
                "flush_tlb_func" => new(IpiCaller.Flush, func, false),
                "do_flush_tlb_all" => new(IpiCaller.FlushAll, func, false),
                "tlb_remove_table_smp_sync" => new(IpiCaller.Sync, func, false),
                _ => new(IpiCaller.Other, func, false),
            };
        if (graphContext is { Count: > 0 })
        {
            for (var i = graphContext.Count - 1; i >= 0; i--)
            {
                switch (graphContext[i])
                {
                    case "native_flush_tlb_multi" or "flush_tlb_multi" or "flush_tlb_mm_range": return new(IpiCaller.Flush, graphContext[i], false);
                    case "flush_tlb_all": return new(IpiCaller.FlushAll, graphContext[i], false);
                    case "tlb_remove_table_sync_one": return new(IpiCaller.Sync, graphContext[i], false);
                }
            }
            // Another caller: named by the innermost function that is not kernel/smp.c's own.
            var caller = graphContext.LastOrDefault(f => !SmpHelpers.Contains(f)) ?? graphContext[0];
            return new(IpiCaller.Other, caller, false);
        }
        var site = Symbol(callsite);
        return site switch
        {
            "on_each_cpu_cond_mask" or "native_flush_tlb_multi" or "flush_tlb_mm_range" => new(IpiCaller.Flush, site, true),
            "smp_call_function_many" or "smp_call_function" or "tlb_remove_table_sync_one" => new(IpiCaller.Sync, site, true),
            _ => new(IpiCaller.Other, site, false),
        };
    }

    /// <summary>kernel/smp.c's entry points, which name no caller in a function_graph stack.</summary>
    private static readonly HashSet<string> SmpHelpers = new(StringComparer.Ordinal)
    {
        "on_each_cpu_cond_mask", "smp_call_function_many_cond", "smp_call_function_many", "smp_call_function", "smp_call_function_single",
        "smp_call_function_any", "generic_exec_single", "__smp_call_single_queue", "irq_work_queue_on",
    };

    /// <summary>A %pS symbol without its offset: <c>flush_tlb_func+0x0/0x1f0</c> is <c>flush_tlb_func</c>.</summary>
    private static string Symbol(string printed)
    {
        var plus = printed.IndexOf('+');
        return plus < 0 ? printed : printed[..plus];
    }

    /// <summary>
    /// Operations rebuilt from IPIs, per sending CPU in time order: a flush IPI opens a flush
    /// reaching the IPI's CPUs; the sync IPI right after it on the same CPU makes it a
    /// flush-then-sync; a sync IPI with no flush open is a sync with no flush.
    /// </summary>
    private sealed class IpiCalls(string file)
    {
        private readonly Dictionary<int, (long Time, int Pages, int[] Targets)> _openFlush = new();
        private readonly Dictionary<string, int> _background = new(StringComparer.Ordinal);

        public List<ReplayedOp> Ops { get; } = new();
        public int EmptyMasks { get; private set; }
        public int ByCallsiteOnly { get; private set; }

        public ImmutableArray<BackgroundIpis> Background =>
            [.. _background.OrderByDescending(b => b.Value).ThenBy(b => b.Key, StringComparer.Ordinal).Select(b => new BackgroundIpis(b.Key, b.Value))];

        public void Add(int cpu, long time, int[] targets, IpiCall call, int pages)
        {
            if (targets.Length == 0)
            {
                EmptyMasks++;
                return;
            }
            if (call.Caller == IpiCaller.Other)
            {
                _background[call.Name] = _background.GetValueOrDefault(call.Name) + 1;
                return;
            }
            if (call.ByCallsite) ByCallsiteOnly++;
            if (Ops.Count + _openFlush.Count > MaxOps) throw new ScenarioException(file, 0, 0, "(file)", $"more than {MaxOps:N0} operations");
            var flush = _openFlush.Remove(cpu, out var open);
            if (call.Caller == IpiCaller.FlushAll)
            {
                // A whole-TLB flush of the CPUs it reached; no sync pairs with it.
                if (flush) Ops.Add(new ReplayedOp(cpu, open.Time, OpType.FlushRange, open.Pages, Targets(cpu, open.Targets)));
                Ops.Add(new ReplayedOp(cpu, time, OpType.FlushRange, ReplayPages(-1), Targets(cpu, targets)));
            }
            else if (call.Caller == IpiCaller.Flush)
            {
                if (flush) Ops.Add(new ReplayedOp(cpu, open.Time, OpType.FlushRange, open.Pages, Targets(cpu, open.Targets)));
                _openFlush[cpu] = (time, pages, targets);
            }
            else if (flush)
            {
                Ops.Add(new ReplayedOp(cpu, open.Time, OpType.CollapseHugePage, open.Pages, Targets(cpu, open.Targets)));
            }
            else
            {
                Ops.Add(new ReplayedOp(cpu, time, OpType.SyncWithoutFlush, 1, []));
            }
        }

        /// <summary>The flushes still open at the end of the trace.</summary>
        public List<ReplayedOp> Close()
        {
            foreach (var (cpu, open) in _openFlush) Ops.Add(new ReplayedOp(cpu, open.Time, OpType.FlushRange, open.Pages, Targets(cpu, open.Targets)));
            _openFlush.Clear();
            return Ops;
        }

        private static ImmutableArray<int> Targets(int sender, int[] ipi) => [.. ipi.Where(t => t != sender).Distinct().Order()];
    }

    /// <summary>
    /// ipi_send_cpumask's mask: the <c>trace</c> file prints a bitmap in comma-separated 32-bit hex
    /// groups, most significant first (<c>00000000,0000000b</c>); <c>trace-cmd report</c> a CPU list
    /// (<c>0-1,3</c>). A range can only be a list; otherwise the file's header decides.
    /// </summary>
    private static int[] Cpumask(Group g, CpumaskFormat format, string file, int line)
    {
        var text = g.Value;
        if (text.Length == 0) return [];
        if (format == CpumaskFormat.Auto)
        {
            if (!text.Contains('-'))
                throw new ScenarioException(file, line, g.Index + 1, "cpumask",
                    $"'{text}' could be a hex bitmap or a CPU list, and the file has no '# tracer:' or trace-cmd 'cpus=' header to say which: give --cpumask-format");
            format = CpumaskFormat.List;
        }
        try
        {
            return format == CpumaskFormat.List ? CpuList.Parse(text, MaxCpus) : HexBitmap(text);
        }
        catch (FormatException e)
        {
            throw new ScenarioException(file, line, g.Index + 1, "cpumask", $"'{text}' is not a {(format == CpumaskFormat.List ? "CPU list" : "hex bitmap")}: {e.Message}");
        }
    }

    private static int[] HexBitmap(string text)
    {
        var groups = text.Split(',');
        if (groups.Length * 32 > MaxCpus) throw new FormatException($"more than {MaxCpus} CPUs");
        var cpus = new List<int>();
        for (var i = 0; i < groups.Length; i++)
        {
            var group = groups[groups.Length - 1 - i];
            if (group.Length is 0 or > 8 || !uint.TryParse(group, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var bits))
                throw new FormatException($"'{group}' is not a group of 1 to 8 hex digits");
            for (var b = 0; b < 32; b++)
                if ((bits & (1u << b)) != 0) cpus.Add(i * 32 + b);
        }
        return [.. cpus];
    }

    private static void Close(Open? op, List<ReplayedOp> ops)
    {
        if (op is null) return;
        var type = !op.Flush ? OpType.SyncWithoutFlush : op.SyncTargets is not null ? OpType.CollapseHugePage : OpType.FlushRange;
        ops.Add(new ReplayedOp(op.Cpu, op.Time, type, ReplayPages(op.Pages), op.Flush ? [.. op.FlushTargets.Distinct().Order()] : []));
    }

    /// <summary>tlb_flush's pages as the replay flushes them: -1 is TLB_FLUSH_ALL (more than tlb_single_page_flush_ceiling, or a full flush); 0 is "nothing to do".</summary>
    private static int ReplayPages(int traced) => traced switch { < 0 => 512, 0 => 1, var p => p };

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
