using System.Collections.Immutable;
using Shootdown.Model.Costs;
using Shootdown.Model.Kernel;
using Shootdown.Model.Topology;
using Shootdown.Model.Workload;
using YamlDotNet.RepresentationModel;

namespace Shootdown.Scenarios;

/// <summary>
/// Reads a scenario file. Parsing is strict: unknown keys, out-of-range CPUs, negative or
/// absurd values and malformed YAML are <see cref="ScenarioException"/>s naming file, line,
/// column and field.
/// </summary>
public static class ScenarioLoader
{
    /// <summary>Scenario files are small; anything larger is refused before it is read.</summary>
    public const long MaxFileBytes = 1 << 20;

    /// <summary>The most operations a scenario may ask for (rate × duration, plus explicit times).</summary>
    public const double MaxExpectedOperations = 10_000_000;

    public const double MaxDurationUs = 60_000_000; // one virtual minute

    /// <summary>Top-level fields, in the order docs/scenarios.md documents them (the JSON Schema must list the same).</summary>
    public static readonly string[] Fields = ["name", "description", "machine", "platform", "kernel_config", "seed", "duration_us", "policies", "costs",
        "realtime_cpus", "nohz_full", "timeslice_us", "osnoise_period_us", "processes", "operations", "irqs_off", "hugetlb_shares", "walkers", "steal_time", "sweep"];

    public static readonly string[] ProcessFields = ["name", "threads", "cpus", "run_us", "sleep_us", "migrate_us", "stop_us"];
    public static readonly string[] OperationFields = ["type", "process", "cpu", "cpus", "pages", "rate_per_s", "at_us", "back_to_back", "khugepaged", "start_us", "count", "batch_alloc_fail", "flush_targets"];

    /// <summary>khugepaged's sysfs knobs (/sys/kernel/mm/transparent_hugepage/khugepaged/), and how often its huge page allocation fails.</summary>
    private static readonly string[] KhugepagedFields = ["pages_to_scan", "scan_sleep_millisecs", "alloc_sleep_millisecs", "alloc_fail"];
    public static readonly string[] IrqOffFields = ["cpus", "period_us", "duration_us"];
    public static readonly string[] HugetlbShareFields = ["name", "processes", "tables"];
    public static readonly string[] WalkerFields = ["kind", "process", "cpus", "interval_us", "duration_us"];
    public static readonly string[] StealTimeFields = ["cpus", "period_us", "duration_us"];

    /// <summary>The most lockless walks a scenario may ask for: each is kept until the safety check.</summary>
    public const double MaxExpectedWalks = 20_000_000;

    /// <summary>A scenario file with no sweep: its one scenario.</summary>
    public static Scenario LoadFile(string path)
    {
        var file = Load(path);
        return file.IsSweep
            ? throw new ScenarioException(path, 0, 0, "sweep", "this scenario is a sweep; run it with 'shootdown run', which runs every point")
            : file.Points[0].Scenario;
    }

    /// <summary>A scenario file, expanded into its sweep points (one point when it has no sweep), with <paramref name="overrides"/> put in first.</summary>
    public static ScenarioFile Load(string path, IReadOnlyList<ScenarioOverride>? overrides = null)
    {
        return ParseFile(path, InputFiles.ReadText(path, MaxFileBytes, "a scenario", InputFiles.AtFile(path)), overrides);
    }

    /// <summary>
    /// Parses scenario text (with its sweep, if any). Includes resolve relative to <paramref name="file"/>.
    /// Each override replaces its field in the document before anything is read, so it is checked
    /// as the file's own value would be, and every sweep point gets it.
    /// </summary>
    public static ScenarioFile ParseFile(string file, string text, IReadOnlyList<ScenarioOverride>? overrides = null)
    {
        overrides ??= [];
        if (text.Length > MaxFileBytes)
            throw new ScenarioException(file, 0, 0, "(file)", $"larger than the {MaxFileBytes:N0}-byte limit for a scenario");
        var root = YamlReader.LoadDocument(file, text);
        var sweep = Sweep.Read(new YamlReader(file, root, ""));
        IReadOnlyCollection<string> swept = sweep is null ? [] : sweep.Parameters;
        ScenarioOverride.Apply(overrides, root, swept);
        if (sweep is null)
            return new ScenarioFile(file, [], [new SweepPoint([], ScenarioOverride.Located(overrides, () => Parse(file, root)))], [.. overrides]);
        var points = ImmutableArray.CreateBuilder<SweepPoint>(sweep.Count);
        for (var i = 0; i < sweep.Count; i++)
        {
            // Each point parses its own copy of the document with the swept values put in place.
            var copy = YamlReader.LoadDocument(file, text);
            ScenarioOverride.Apply(overrides, copy, swept);
            var values = sweep.Apply(copy, i);
            var point = i;
            points.Add(new SweepPoint(values, () => ScenarioOverride.Located(overrides, () => sweep.Located(point, () => Parse(file, copy)))));
        }
        return new ScenarioFile(file, sweep.Parameters, points.MoveToImmutable(), [.. overrides]);
    }

    /// <summary>Parses one scenario (no sweep) from text.</summary>
    public static Scenario Parse(string file, string text)
    {
        var parsed = ParseFile(file, text);
        return parsed.IsSweep ? throw new ScenarioException(file, 0, 0, "sweep", "expected a single scenario, found a sweep") : parsed.Points[0].Scenario;
    }

    private static Scenario Parse(string file, YamlMappingNode document)
    {
        var root = new YamlReader(file, document, "");
        root.RejectUnknownKeys(Fields.Where(f => f != "sweep"));
        var includes = Includes.Root(file);

        var name = root.String("name") ?? TerminalText.Escape(Path.GetFileNameWithoutExtension(file));
        var description = root.String("description") ?? "";
        var machine = MachineSection.Parse(root, "machine", includes);
        var n = machine.CpuCount;
        var seed = (ulong)(root.Integer("seed", 0, long.MaxValue) ?? 1);
        var durationNs = UsToNs(root.Number("duration_us", 1, MaxDurationUs) ?? throw root.Error("duration_us", "is required"));

        var features = PlatformSection.Parse(root);
        var policies = ParsePolicies(root).Select(p => KernelConfigSection.Apply(root, p)).ToImmutableArray();
        var costs = ParseCosts(root.Mapping("costs"), Presets.Find(machine.Name));
        var rt = root.Has("realtime_cpus") ? Cpus(root, "realtime_cpus", n) : [];
        var nohzFull = root.Has("nohz_full") ? Cpus(root, "nohz_full", n) : [];
        // tick_nohz_init(): the boot CPU stays a housekeeping CPU; nohz_full= of every CPU is refused.
        if (nohzFull.Length == n) throw root.Error("nohz_full", "leaves no housekeeping CPU: the kernel keeps at least one (the boot CPU) out of nohz_full");
        var timesliceNs = UsToNs(root.Number("timeslice_us", 1, 1_000_000) ?? 3_000);
        var osnoisePeriodNs = UsToNs(root.Number("osnoise_period_us", 1, MaxDurationUs) ?? 1_000_000);

        var processIndex = new Dictionary<string, int>();
        var processes = ImmutableArray.CreateBuilder<ProcessSpec>();
        foreach (var p in ProcessReaders(root, includes))
        {
            p.RejectUnknownKeys(ProcessFields);
            var pname = p.RequiredString("name");
            if (!processIndex.TryAdd(pname, processes.Count)) throw p.Error("name", $"process '{pname}' is defined twice");
            var cpus = Cpus(p, "cpus", n);
            var threads = (int)(p.Integer("threads", 1, 1_000_000) ?? cpus.Length);
            var run = p.Number("run_us", 0.001, MaxDurationUs);
            var sleep = p.Number("sleep_us", 0.001, MaxDurationUs);
            if ((run is null) != (sleep is null)) throw p.Error(run is null ? "sleep_us" : "run_us", "run_us and sleep_us go together");
            var migrate = p.Number("migrate_us", 0.001, MaxDurationUs);
            var stop = p.Number("stop_us", 0, MaxDurationUs) is { } stopUs ? UsToNs(stopUs) : (long?)null;
            processes.Add(new ProcessSpec(pname, threads, [.. cpus], run * 1000, sleep * 1000, migrate * 1000, stop));
        }
        if (processes.Count == 0) throw root.Error("processes", "at least one process is required");

        int ProcessNamedIn(YamlReader r)
        {
            var name = r.RequiredString("process");
            return processIndex.TryGetValue(name, out var index) ? index : throw r.Error("process", $"no process named '{name}'");
        }

        var operations = ImmutableArray.CreateBuilder<OpStreamSpec>();
        var expectedOps = 0.0;
        foreach (var o in root.Mappings("operations"))
        {
            o.RejectUnknownKeys(OperationFields);
            var type = o.RequiredName("type", OpTypeNames.Scenario, "operation");
            var process = ProcessNamedIn(o);
            var hasCpu = o.Has("cpu");
            if (hasCpu == o.Has("cpus")) throw o.Error(hasCpu ? "cpus" : "cpu", "give exactly one of cpu or cpus");
            var cpus = hasCpu ? [(int)o.Integer("cpu", 0, n - 1)!.Value] : Cpus(o, "cpus", n);
            var defaultPages = type switch { OpType.FlushRange => 1, _ => 512 };
            var pages = (int)(o.Integer("pages", 1, 1 << 18) ?? defaultPages);
            var rate = o.Number("rate_per_s", 0, 1e9);
            var at = o.Scalars("at_us").Select(s => UsToNs(ParseTime(o, s.Node, s.Value, durationNs))).ToImmutableArray();
            var backToBack = o.Boolean("back_to_back") ?? false;
            var khugepaged = Khugepaged(o, type);
            var batchAllocFail = o.Number("batch_alloc_fail", 0, 1) ?? 0;
            if (batchAllocFail > 0 && type != OpType.MunmapFreeTables)
                throw o.Error("batch_alloc_fail", "only munmap_free_tables allocates a table batch");
            var arrivalModes = (rate is null ? 0 : 1) + (at.IsEmpty ? 0 : 1) + (backToBack ? 1 : 0) + (khugepaged is null ? 0 : 1);
            if (arrivalModes != 1) throw o.Error(o.Node, o.Field("rate_per_s"), "give exactly one of rate_per_s, at_us, back_to_back or khugepaged");
            var start = o.Number("start_us", 0, MaxDurationUs) is { } startUs ? UsToNs(startUs) : 0;
            if (start >= durationNs) throw o.Error("start_us", "is outside the run (0 to duration_us)");
            if (o.Has("start_us") && !at.IsEmpty) throw o.Error("start_us", "at_us already gives every arrival time");
            var count = (int?)o.Integer("count", 1, (long)MaxExpectedOperations);
            var streamOps = rate is { } r ? r * Math.Max(0, durationNs - start) / 1e9
                : khugepaged is { } k ? k.MostCollapses(durationNs - start) : at.Length;
            expectedOps += cpus.Length * (count is { } c && (backToBack || c < streamOps) ? c : streamOps);
            if (expectedOps > MaxExpectedOperations)
                throw o.Error("rate_per_s", $"the scenario would issue about {expectedOps:N0} operations; the limit is {MaxExpectedOperations:N0} (lower the rate or the duration)");
            var flushTargets = FlushTargets(o, n);
            foreach (var cpu in cpus)
                operations.Add(new OpStreamSpec(type, process, cpu, pages, rate, at, backToBack, batchAllocFail)
                    { StartNs = start, Count = count, FlushTargets = flushTargets, Khugepaged = khugepaged });
        }

        var irqsOff = root.Mappings("irqs_off")
            .Select(i => PeriodicWindows(i, IrqOffFields, n, "the CPU never takes an interrupt", (cpus, period, dur) => new IrqOffSpec(cpus, period, dur)))
            .ToImmutableArray();

        var shares = ImmutableArray.CreateBuilder<HugetlbShareSpec>();
        var sharing = new HashSet<int>();
        foreach (var h in root.Mappings("hugetlb_shares"))
        {
            h.RejectUnknownKeys(HugetlbShareFields);
            var sname = h.RequiredString("name");
            var sharers = h.Scalars("processes").Select(s => processIndex.TryGetValue(s.Value, out var idx)
                ? idx
                : throw h.Error(s.Node, h.Field("processes"), $"no process named '{s.Value}'")).ToList();
            if (sharers.Count < 2) throw h.Error("processes", "a shared mapping needs at least two processes");
            foreach (var s in sharers)
                if (!sharing.Add(s)) throw h.Error("processes", $"process '{processes[s].Name}' is in more than one shared mapping");
            var tables = (int)(h.Integer("tables", 1, 1 << 20) ?? 1);
            shares.Add(new HugetlbShareSpec(sname, [.. sharers], tables));
        }

        var walkers = ImmutableArray.CreateBuilder<WalkerSpec>();
        var expectedWalks = 0.0;
        foreach (var w in root.Mappings("walkers"))
        {
            w.RejectUnknownKeys(WalkerFields);
            var kind = w.RequiredName("kind", WalkerKinds.Scenario, "walker");
            if (kind == WalkerKind.PaePmdpGetLockless && !policies.All(p => p.GupGetPxxLowHigh))
                throw w.Error("kind", "pmdp_get_lockless readers split the pmd only on 32-bit PAE: set kernel_config.gup_get_pxx_low_high: true");
            var process = ProcessNamedIn(w);
            var cpus = Cpus(w, "cpus", n);
            var interval = UsToNs(w.Number("interval_us", 0.001, MaxDurationUs) ?? throw w.Error("interval_us", "is required"));
            var dur = UsToNs(w.Number("duration_us", 0.001, MaxDurationUs) ?? throw w.Error("duration_us", "is required"));
            expectedWalks += cpus.Length * (double)durationNs / interval;
            if (expectedWalks > MaxExpectedWalks)
                throw w.Error("interval_us", $"the scenario would make about {expectedWalks:N0} walks; the limit is {MaxExpectedWalks:N0} (raise the interval or shorten the run)");
            walkers.Add(new WalkerSpec(kind, process, [.. cpus], interval, dur));
        }

        var stealTime = root.Mappings("steal_time")
            .Select(st => PeriodicWindows(st, StealTimeFields, n, "the vCPU never runs", (cpus, period, dur) => new StealTimeSpec(cpus, period, dur)))
            .ToImmutableArray();

        var workload = new WorkloadSpec(processes.ToImmutable(), operations.ToImmutable(), irqsOff, shares.ToImmutable(), [.. rt], timesliceNs, osnoisePeriodNs)
        {
            Walkers = walkers.ToImmutable(),
            StealTime = stealTime,
            NohzFullCpus = [.. nohzFull],
        };
        return new Scenario(name, description, machine, seed, durationNs, policies, costs, features, workload);
    }

    /// <summary>
    /// The <c>processes</c> list, with <c>{ include: FILE }</c> items replaced by the process (a
    /// mapping) or processes (a list of mappings) that file holds.
    /// </summary>
    private static IEnumerable<YamlReader> ProcessReaders(YamlReader root, Includes includes)
    {
        foreach (var p in root.Mappings("processes"))
        {
            if (!p.Has("include"))
            {
                yield return p;
                continue;
            }
            p.RejectUnknownKeys(["include"]);
            var (file, included, _) = includes.Load(p, p.Find("include")!, p.Field("include"), p.RequiredString("include"));
            switch (included)
            {
                case YamlMappingNode one:
                    yield return new YamlReader(file, one, "");
                    break;
                case YamlSequenceNode many:
                    for (var i = 0; i < many.Children.Count; i++)
                        yield return many.Children[i] is YamlMappingNode m
                            ? new YamlReader(file, m, $"[{i}]")
                            : throw new ScenarioException(file, many.Children[i].Start.Line, many.Children[i].Start.Column, $"[{i}]", "a process is a mapping");
                    break;
                default:
                    throw new ScenarioException(file, included.Start.Line, included.Start.Column, "(root)", "an included process file holds a process mapping or a list of them");
            }
        }
    }

    private static ImmutableArray<KernelPolicy> ParsePolicies(YamlReader root)
    {
        var names = root.Scalars("policies");
        if (names.Count == 0) return [KernelPolicy.Baseline, KernelPolicy.Patched];
        var list = ImmutableArray.CreateBuilder<KernelPolicy>();
        foreach (var (node, value) in names)
        {
            var policy = KernelPolicy.Find(value)
                         ?? throw root.Error(node, root.Field("policies"), $"unknown policy '{value}' (expected {string.Join(" or ", KernelPolicy.BuiltIn.Select(p => p.Name))})");
            if (list.Contains(policy)) throw root.Error(node, root.Field("policies"), $"policy '{value}' is listed twice");
            list.Add(policy);
        }
        return list.ToImmutable();
    }

    private static readonly Dictionary<string, Func<CostModel, long, CostModel>> CostFields = new()
    {
        ["ipi_delivery_smt_sibling_ns"] = (c, v) => c with { IpiDeliverySmtSiblingNs = v },
        ["ipi_delivery_same_package_ns"] = (c, v) => c with { IpiDeliverySamePackageNs = v },
        ["ipi_delivery_per_numa_hop_ns"] = (c, v) => c with { IpiDeliveryPerNumaHopNs = v },
        ["interrupt_entry_ns"] = (c, v) => c with { InterruptEntryNs = v },
        ["interrupt_exit_ns"] = (c, v) => c with { InterruptExitNs = v },
        ["interrupt_from_user_ns"] = (c, v) => c with { InterruptFromUserNs = v },
        ["idle_tick_ns"] = (c, v) => c with { IdleTickNs = v },
        ["sync_function_ns"] = (c, v) => c with { SyncFunctionNs = v },
        ["flush_tlb_func_base_ns"] = (c, v) => c with { FlushTlbFuncBaseNs = v },
        ["flush_tlb_per_page_ns"] = (c, v) => c with { FlushTlbPerPageNs = v },
        ["flush_tlb_full_ns"] = (c, v) => c with { FlushTlbFullNs = v },
        ["tlb_single_page_flush_ceiling"] = (c, v) => c with { TlbSinglePageFlushCeiling = (int)v },
        ["csd_setup_per_target_ns"] = (c, v) => c with { CsdSetupPerTargetNs = v },
        ["icr_write_ns"] = (c, v) => c with { IcrWriteNs = v },
        ["vm_exit_ns"] = (c, v) => c with { VmExitNs = v },
        ["kvm_send_ipi_hypercall_ns"] = (c, v) => c with { KvmSendIpiHypercallNs = v },
        ["kvm_send_ipi_per_target_ns"] = (c, v) => c with { KvmSendIpiPerTargetNs = v },
        ["kvm_sched_yield_ns"] = (c, v) => c with { KvmSchedYieldNs = v },
        ["cache_line_smt_sibling_ns"] = (c, v) => c with { CacheLineSmtSiblingNs = v },
        ["cache_line_same_l3_ns"] = (c, v) => c with { CacheLineSameL3Ns = v },
        ["cache_line_same_package_ns"] = (c, v) => c with { CacheLineSamePackageNs = v },
        ["cache_line_per_numa_hop_ns"] = (c, v) => c with { CacheLinePerNumaHopNs = v },
        ["mm_context_access_ns"] = (c, v) => c with { MmContextAccessNs = v },
        ["migration_ns"] = (c, v) => c with { MigrationNs = v },
        ["invlpgb_ns"] = (c, v) => c with { InvlpgbNs = v },
        ["invlpgb_count_max"] = (c, v) => c with { InvlpgbCountMax = (int)Math.Min(v, int.MaxValue) },
        ["csd_lock_wait_misses_in_flight"] = (c, v) => c with { CsdLockWaitMissesInFlight = (int)Math.Min(v, int.MaxValue) },
        ["invlpgb_full_ns"] = (c, v) => c with { InvlpgbFullNs = v },
        ["tlbsync_ns"] = (c, v) => c with { TlbsyncNs = v },
        ["hypercall_flush_ns"] = (c, v) => c with { HypercallFlushNs = v },
        ["tlbi_per_page_ns"] = (c, v) => c with { TlbiPerPageNs = v },
        ["dsb_ish_ns"] = (c, v) => c with { DsbIshNs = v },
        ["sbi_remote_fence_ns"] = (c, v) => c with { SbiRemoteFenceNs = v },
        ["rcu_gp_kthread_ns"] = (c, v) => c with { RcuGpKthreadNs = v },
        ["rcu_jiffies_till_first_fqs"] = (c, v) => c with { RcuJiffiesTillFirstFqs = v },
        ["lockless_walk_tracking_percent"] = (c, v) => c with { LocklessWalkTrackingPercent = (int)Math.Min(v, int.MaxValue) },
        ["jiffy_ns"] = (c, v) => c with { JiffyNs = v },
        ["context_tracking_ns"] = (c, v) => c with { ContextTrackingNs = v },
    };

    public static IEnumerable<string> CostFieldNames => CostFields.Keys.Append("ipi_shorthand").Append("apic_mode").Append("core_to_core");

    /// <summary>
    /// The cost model: a preset machine's own APIC mode and core-to-core table first, then the
    /// scenario's <c>core_to_core</c> table, then each cost it sets.
    /// </summary>
    private static CostModel ParseCosts(YamlReader? costs, Presets.Preset? preset)
    {
        var model = new CostModel();
        if (preset?.Apic is { } apic) model = model with { ApicMode = apic };
        if (preset?.CoreToCore is { } table) model = table.ApplyTo(model);
        if (costs is null) return model;
        costs.RejectUnknownKeys(CostFieldNames);
        if (costs.Has("core_to_core"))
            model = costs.Choice("core_to_core", CoreToCoreTable.XeonIceLake, "core-to-core table", [.. CoreToCoreTable.All.Select(t => (t.Name, t))]).ApplyTo(model);
        foreach (var (key, apply) in CostFields)
            if (costs.Integer(key, 0, 1_000_000_000) is { } v) model = apply(model, v);
        if (costs.Boolean("ipi_shorthand") is { } shorthand) model = model with { IpiShorthand = shorthand };
        model = model with
        {
            ApicMode = costs.Choice("apic_mode", model.ApicMode, "APIC mode", ("x2apic-cluster", ApicMode.X2ApicCluster), ("physical", ApicMode.Physical), ("uv", ApicMode.Uv)),
        };
        try
        {
            model.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw costs.Error(costs.Node, costs.Field(ToSnakeCase(e.ParamName ?? "")), e.Message.Split(Environment.NewLine)[0].Split(" (Parameter")[0]);
        }
        return model;
    }

    /// <summary>A <c>cpus, period_us, duration_us</c> item (irqs_off, steal_time): the window must leave part of each period free.</summary>
    private static T PeriodicWindows<T>(YamlReader r, string[] fields, int nrCpus, string ifNotShorter, Func<ImmutableArray<int>, long, long, T> make)
    {
        r.RejectUnknownKeys(fields);
        var cpus = Cpus(r, "cpus", nrCpus);
        var period = UsToNs(r.Number("period_us", 0.001, MaxDurationUs) ?? throw r.Error("period_us", "is required"));
        var dur = UsToNs(r.Number("duration_us", 0.001, MaxDurationUs) ?? throw r.Error("duration_us", "is required"));
        if (dur >= period) throw r.Error("duration_us", $"must be shorter than period_us, or {ifNotShorter}");
        return make([.. cpus], period, dur);
    }

    private static string ToSnakeCase(string pascal) =>
        string.Concat(pascal.Select((ch, i) => char.IsUpper(ch) && i > 0 ? "_" + char.ToLowerInvariant(ch) : char.ToLowerInvariant(ch).ToString()));

    private static int[] Cpus(YamlReader r, string key, int nrCpus)
    {
        var node = r.Required(key);
        var text = node is YamlScalarNode { Value: { } v } ? v : throw r.Error(node, r.Field(key), "must be a CPU list like 0-3,8");
        try
        {
            var cpus = CpuList.Parse(text, nrCpus);
            return cpus.Length > 0 ? cpus : throw new FormatException("the list is empty");
        }
        catch (FormatException e)
        {
            throw r.Error(node, r.Field(key), e.Message);
        }
    }

    /// <summary>
    /// <c>khugepaged</c>: the operation's arrivals paced by khugepaged's knobs, each defaulting to
    /// the kernel's (mm/khugepaged.c: <c>khugepaged_pages_to_scan = HPAGE_PMD_NR * 8</c>,
    /// <c>scan_sleep_millisecs</c> 10000, <c>alloc_sleep_millisecs</c> 60000). Only what khugepaged
    /// itself does: a collapse, or the PTE-mapped THP collapses that retract page tables.
    /// </summary>
    private static KhugepagedKnobs? Khugepaged(YamlReader o, OpType type)
    {
        if (!o.Has("khugepaged")) return null;
        var k = o.Mapping("khugepaged")!;
        if (type is not (OpType.CollapseHugePage or OpType.RetractPageTables or OpType.TryCollapsePteMappedThp))
            throw o.Error("khugepaged", "paces only what khugepaged does: collapse_huge_page, retract_page_tables, try_collapse_pte_mapped_thp");
        k.RejectUnknownKeys(KhugepagedFields);
        return new KhugepagedKnobs(
            (int)(k.Integer("pages_to_scan", 1, int.MaxValue) ?? 4096),
            (long)((k.Integer("scan_sleep_millisecs", 0, 3_600_000) ?? 10_000) * 1_000_000),
            (long)((k.Integer("alloc_sleep_millisecs", 0, 3_600_000) ?? 60_000) * 1_000_000),
            k.Number("alloc_fail", 0, 1) ?? 0);
    }

    /// <summary><c>flush_targets</c>: a CPU list, possibly empty (a replayed local-only flush); absent, the flush reads mm_cpumask.</summary>
    private static ImmutableArray<int>? FlushTargets(YamlReader o, int nrCpus)
    {
        if (o.String("flush_targets") is not { } text) return null;
        try
        {
            return text.Trim().Length == 0 ? [] : [.. CpuList.Parse(text, nrCpus)];
        }
        catch (FormatException e)
        {
            throw o.Error("flush_targets", e.Message);
        }
    }

    private static double ParseTime(YamlReader r, YamlNode node, string text, long durationNs)
    {
        if (!double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var us) || !double.IsFinite(us))
            throw r.Error(node, r.Field("at_us"), $"'{text}' is not a time in microseconds");
        if (us < 0 || us * 1000 >= durationNs) throw r.Error(node, r.Field("at_us"), $"{text} µs is outside the run (0 to duration_us)");
        return us;
    }

    private static long UsToNs(double us) => (long)Math.Round(us * 1000);
}
