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

    public static Scenario LoadFile(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new ScenarioException(path, 0, 0, "(file)", "no such file");
        if (info.Length > MaxFileBytes)
            throw new ScenarioException(path, 0, 0, "(file)", $"{info.Length} bytes is larger than the {MaxFileBytes}-byte limit for a scenario");
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ScenarioException(path, 0, 0, "(file)", e.Message);
        }
        return Parse(path, text);
    }

    public static Scenario Parse(string file, string text)
    {
        if (text.Length > MaxFileBytes)
            throw new ScenarioException(file, 0, 0, "(file)", $"larger than the {MaxFileBytes}-byte limit for a scenario");
        var root = new YamlReader(file, YamlReader.LoadDocument(file, text), "");
        root.RejectUnknownKeys(["name", "description", "machine", "seed", "duration_us", "policies", "costs", "realtime_cpus",
            "timeslice_us", "processes", "operations", "irqs_off", "hugetlb_shares"]);

        var name = root.String("name") ?? Path.GetFileNameWithoutExtension(file);
        var description = root.String("description") ?? "";
        var machineSpec = root.RequiredString("machine");
        Machine machine;
        try
        {
            machine = Presets.Resolve(machineSpec);
        }
        catch (TopologySpecException e)
        {
            throw root.Error("machine", $"{e.Message} (or use a preset: {string.Join(", ", Presets.All.Select(p => p.Name))})");
        }
        var n = machine.CpuCount;
        var seed = (ulong)(root.Integer("seed", 0, long.MaxValue) ?? 1);
        var durationNs = UsToNs(root.Number("duration_us", 1, MaxDurationUs) ?? throw root.Error("duration_us", "is required"));

        var policies = ParsePolicies(root);
        var costs = ParseCosts(root.Mapping("costs"));
        var rt = root.Has("realtime_cpus") ? Cpus(root, "realtime_cpus", n) : [];
        var timesliceNs = UsToNs(root.Number("timeslice_us", 1, 1_000_000) ?? 3_000);

        var processReaders = root.Mappings("processes");
        var processIndex = new Dictionary<string, int>();
        var processes = ImmutableArray.CreateBuilder<ProcessSpec>();
        foreach (var p in processReaders)
        {
            p.RejectUnknownKeys(["name", "threads", "cpus", "run_us", "sleep_us", "migrate_us", "stop_us"]);
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

        var operations = ImmutableArray.CreateBuilder<OpStreamSpec>();
        var expectedOps = 0.0;
        foreach (var o in root.Mappings("operations"))
        {
            o.RejectUnknownKeys(["type", "process", "cpu", "cpus", "pages", "rate_per_s", "at_us", "back_to_back"]);
            var typeText = o.RequiredString("type");
            var type = typeText switch
            {
                "collapse_huge_page" => OpType.CollapseHugePage,
                "hugetlb_unshare" => OpType.HugetlbUnshare,
                "flush_range" => OpType.FlushRange,
                _ => throw o.Error("type", $"unknown operation '{typeText}' (expected collapse_huge_page, hugetlb_unshare or flush_range)"),
            };
            var processName = o.RequiredString("process");
            if (!processIndex.TryGetValue(processName, out var process)) throw o.Error("process", $"no process named '{processName}'");
            var hasCpu = o.Has("cpu");
            if (hasCpu == o.Has("cpus")) throw o.Error(hasCpu ? "cpus" : "cpu", "give exactly one of cpu or cpus");
            var cpus = hasCpu ? [(int)o.Integer("cpu", 0, n - 1)!.Value] : Cpus(o, "cpus", n);
            var defaultPages = type switch { OpType.FlushRange => 1, _ => 512 };
            var pages = (int)(o.Integer("pages", 1, 1 << 18) ?? defaultPages);
            var rate = o.Number("rate_per_s", 0, 1e9);
            var at = o.Scalars("at_us").Select(s => UsToNs(ParseTime(o, s.Node, s.Value, durationNs))).ToImmutableArray();
            var backToBack = o.Boolean("back_to_back") ?? false;
            var arrivalModes = (rate is null ? 0 : 1) + (at.IsEmpty ? 0 : 1) + (backToBack ? 1 : 0);
            if (arrivalModes != 1) throw o.Error(o.Node, o.Field("rate_per_s"), "give exactly one of rate_per_s, at_us or back_to_back");
            expectedOps += cpus.Length * (rate is { } r ? r * durationNs / 1e9 : at.Length);
            if (expectedOps > MaxExpectedOperations)
                throw o.Error("rate_per_s", $"the scenario would issue about {expectedOps:N0} operations; the limit is {MaxExpectedOperations:N0} (lower the rate or the duration)");
            foreach (var cpu in cpus)
                operations.Add(new OpStreamSpec(type, process, cpu, pages, rate, at, backToBack));
        }

        var irqsOff = ImmutableArray.CreateBuilder<IrqOffSpec>();
        foreach (var i in root.Mappings("irqs_off"))
        {
            i.RejectUnknownKeys(["cpus", "period_us", "duration_us"]);
            var cpus = Cpus(i, "cpus", n);
            var period = UsToNs(i.Number("period_us", 0.001, MaxDurationUs) ?? throw i.Error("period_us", "is required"));
            var dur = UsToNs(i.Number("duration_us", 0.001, MaxDurationUs) ?? throw i.Error("duration_us", "is required"));
            if (dur >= period) throw i.Error("duration_us", "must be shorter than period_us, or the CPU never takes an interrupt");
            irqsOff.Add(new IrqOffSpec([.. cpus], period, dur));
        }

        var shares = ImmutableArray.CreateBuilder<HugetlbShareSpec>();
        var sharing = new HashSet<int>();
        foreach (var h in root.Mappings("hugetlb_shares"))
        {
            h.RejectUnknownKeys(["name", "processes"]);
            var sname = h.RequiredString("name");
            var sharers = h.Scalars("processes").Select(s => processIndex.TryGetValue(s.Value, out var idx)
                ? idx
                : throw h.Error(s.Node, h.Field("processes"), $"no process named '{s.Value}'")).ToList();
            if (sharers.Count < 2) throw h.Error("processes", "a shared mapping needs at least two processes");
            foreach (var s in sharers)
                if (!sharing.Add(s)) throw h.Error("processes", $"process '{processes[s].Name}' is in more than one shared mapping");
            shares.Add(new HugetlbShareSpec(sname, [.. sharers]));
        }

        var workload = new WorkloadSpec(processes.ToImmutable(), operations.ToImmutable(), irqsOff.ToImmutable(), shares.ToImmutable(), [.. rt], timesliceNs);
        return new Scenario(name, description, machineSpec, machine, seed, durationNs, policies, costs, MachineFeatures.NativeX86, workload)
        {
            SourceFile = file,
            SourceText = text,
        };
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
        ["sync_function_ns"] = (c, v) => c with { SyncFunctionNs = v },
        ["flush_tlb_func_base_ns"] = (c, v) => c with { FlushTlbFuncBaseNs = v },
        ["flush_tlb_per_page_ns"] = (c, v) => c with { FlushTlbPerPageNs = v },
        ["flush_tlb_full_ns"] = (c, v) => c with { FlushTlbFullNs = v },
        ["tlb_single_page_flush_ceiling"] = (c, v) => c with { TlbSinglePageFlushCeiling = (int)v },
        ["csd_setup_per_target_ns"] = (c, v) => c with { CsdSetupPerTargetNs = v },
        ["icr_write_ns"] = (c, v) => c with { IcrWriteNs = v },
        ["cache_line_same_package_ns"] = (c, v) => c with { CacheLineSamePackageNs = v },
        ["cache_line_per_numa_hop_ns"] = (c, v) => c with { CacheLinePerNumaHopNs = v },
        ["mm_context_access_ns"] = (c, v) => c with { MmContextAccessNs = v },
        ["migration_ns"] = (c, v) => c with { MigrationNs = v },
    };

    private static CostModel ParseCosts(YamlReader? costs)
    {
        var model = new CostModel();
        if (costs is null) return model;
        costs.RejectUnknownKeys(CostFields.Keys.Append("ipi_shorthand").Append("apic_mode"));
        foreach (var (key, apply) in CostFields)
            if (costs.Integer(key, 0, 1_000_000_000) is { } v) model = apply(model, v);
        if (costs.Boolean("ipi_shorthand") is { } shorthand) model = model with { IpiShorthand = shorthand };
        if (costs.String("apic_mode") is { } mode)
        {
            model = model with
            {
                ApicMode = mode switch
                {
                    "x2apic-cluster" => ApicMode.X2ApicCluster,
                    "physical" => ApicMode.Physical,
                    _ => throw costs.Error("apic_mode", $"unknown APIC mode '{mode}' (expected x2apic-cluster or physical)"),
                },
            };
        }
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

    private static double ParseTime(YamlReader r, YamlNode node, string text, long durationNs)
    {
        if (!double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var us) || !double.IsFinite(us))
            throw r.Error(node, r.Field("at_us"), $"'{text}' is not a time in microseconds");
        if (us < 0 || us * 1000 >= durationNs) throw r.Error(node, r.Field("at_us"), $"{text} µs is outside the run (0 to duration_us)");
        return us;
    }

    private static long UsToNs(double us) => (long)Math.Round(us * 1000);
}
