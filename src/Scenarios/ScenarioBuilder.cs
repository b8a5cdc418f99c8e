using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Shootdown.Scenarios;

/// <summary>
/// Builds a scenario in code. The builder writes the same YAML a scenario file would hold and
/// parses it with <see cref="ScenarioLoader"/>, so a script gets exactly the file format's
/// checks and error messages (named <c>script:NAME</c>), and <see cref="ToYaml"/> turns a script's
/// scenario into a file to keep.
/// </summary>
public sealed class ScenarioBuilder
{
    private readonly YamlMappingNode _root = new();
    private readonly YamlSequenceNode _processes = new();
    private readonly YamlSequenceNode _operations = new();
    private readonly YamlSequenceNode _irqsOff = new();
    private readonly YamlSequenceNode _shares = new();
    private readonly YamlMappingNode _costs = new();

    private ScenarioBuilder(string name) => Put(_root, "name", name);

    /// <summary>A scenario on a preset (<c>shootdown presets</c>) or an hwloc synthetic spec.</summary>
    public static ScenarioBuilder On(string presetOrSpec, string name = "script")
    {
        var b = new ScenarioBuilder(name);
        b._root.Add("machine", presetOrSpec);
        return b;
    }

    /// <summary>A scenario on a real machine's hwloc XML or lscpu -p file, optionally scaled to <paramref name="scaleToCpus"/>.</summary>
    public static ScenarioBuilder OnTopologyFile(string path, int? scaleToCpus = null, string name = "script")
    {
        var b = new ScenarioBuilder(name);
        var machine = new YamlMappingNode { { "from", Path.GetFullPath(path) } };
        if (scaleToCpus is { } cpus) Put(machine, "scale", cpus);
        b._root.Add("machine", machine);
        return b;
    }

    public ScenarioBuilder Description(string text) => Set(_root, "description", text);
    public ScenarioBuilder Seed(ulong seed) => Set(_root, "seed", seed);
    public ScenarioBuilder DurationUs(double us) => Set(_root, "duration_us", us);
    public ScenarioBuilder RealtimeCpus(string cpuList) => Set(_root, "realtime_cpus", cpuList);
    public ScenarioBuilder OsnoisePeriodUs(double us) => Set(_root, "osnoise_period_us", us);

    /// <summary>The policies to compare, in order (the first is the reference for ratios).</summary>
    public ScenarioBuilder Policies(params string[] names)
    {
        _root.Children[new YamlScalarNode("policies")] = new YamlSequenceNode(names.Select(n => new YamlScalarNode(n)));
        return this;
    }

    /// <summary>Overrides one cost (a key of the file format's <c>costs:</c>, e.g. <c>interrupt_entry_ns</c>).</summary>
    public ScenarioBuilder Cost(string key, long nanoseconds) => Set(_costs, key, nanoseconds);

    public ScenarioBuilder Process(string name, string cpus, int? threads = null, double? runUs = null, double? sleepUs = null,
        double? migrateUs = null, double? stopUs = null)
    {
        var p = new YamlMappingNode { { "name", name }, { "cpus", cpus } };
        if (threads is { } t) Put(p, "threads", t);
        if (runUs is { } r) Put(p, "run_us", r);
        if (sleepUs is { } s) Put(p, "sleep_us", s);
        if (migrateUs is { } m) Put(p, "migrate_us", m);
        if (stopUs is { } st) Put(p, "stop_us", st);
        _processes.Add(p);
        return this;
    }

    /// <summary>khugepaged's collapse_huge_page() on <paramref name="process"/>, issued from <paramref name="cpu"/>, Poisson at the rate.</summary>
    public ScenarioBuilder Collapse(string process, int cpu, double ratePerSecond) =>
        Operation("collapse_huge_page", process, cpu, null, ratePerSecond, null);

    /// <summary>A hugetlb PMD unshare by <paramref name="process"/> at the given times (µs).</summary>
    public ScenarioBuilder HugetlbUnshare(string process, int cpu, params double[] atUs) =>
        Operation("hugetlb_unshare", process, cpu, null, null, atUs);

    /// <summary>munmap-style flush_tlb_mm_range() of <paramref name="pages"/> pages, no sync: the control.</summary>
    public ScenarioBuilder FlushRange(string process, int cpu, int pages, double ratePerSecond) =>
        Operation("flush_range", process, cpu, pages, ratePerSecond, null);

    /// <summary>
    /// One operation of a replayed trace at <paramref name="atUs"/>: with <paramref name="flushTargets"/>
    /// (a CPU list, possibly empty) its flush reaches exactly those CPUs instead of mm_cpumask.
    /// </summary>
    public ScenarioBuilder ReplayedOperation(string type, string process, int cpu, double atUs, int pages, string? flushTargets)
    {
        Operation(type, process, cpu, pages, null, [atUs]);
        if (flushTargets is not null) ((YamlMappingNode)_operations.Children[^1]).Add("flush_targets", flushTargets);
        return this;
    }

    public ScenarioBuilder IrqsOff(string cpus, double periodUs, double durationUs)
    {
        _irqsOff.Add(new YamlMappingNode { { "cpus", cpus }, { "period_us", Text(periodUs) }, { "duration_us", Text(durationUs) } });
        return this;
    }

    /// <summary>A hugetlb mapping whose PMD tables the processes share; the first owns them.</summary>
    public ScenarioBuilder HugetlbShare(string name, params string[] processes)
    {
        _shares.Add(new YamlMappingNode { { "name", name }, { "processes", new YamlSequenceNode(processes.Select(p => new YamlScalarNode(p))) } });
        return this;
    }

    /// <summary>The scenario as a YAML file would hold it.</summary>
    public string ToYaml()
    {
        var root = new YamlMappingNode(_root.Children);
        if (_costs.Children.Count > 0) root.Add("costs", _costs);
        root.Add("processes", _processes);
        if (_operations.Children.Count > 0) root.Add("operations", _operations);
        if (_irqsOff.Children.Count > 0) root.Add("irqs_off", _irqsOff);
        if (_shares.Children.Count > 0) root.Add("hugetlb_shares", _shares);
        var writer = new StringWriter();
        new YamlStream(new YamlDocument(root)).Save(writer, assignAnchors: false);
        return writer.ToString();
    }

    /// <summary>Checks and builds the scenario; a mistake is a <see cref="ScenarioException"/> naming the field.</summary>
    public Scenario Build()
    {
        var name = ((YamlScalarNode)_root.Children[new YamlScalarNode("name")]).Value;
        return ScenarioLoader.Parse($"script:{name}", ToYaml());
    }

    private ScenarioBuilder Operation(string type, string process, int cpu, int? pages, double? rate, double[]? atUs)
    {
        var o = new YamlMappingNode { { "type", type }, { "process", process }, { "cpu", Text(cpu) } };
        if (pages is { } p) Put(o, "pages", p);
        if (rate is { } r) Put(o, "rate_per_s", r);
        if (atUs is not null) o.Add("at_us", new YamlSequenceNode(atUs.Select(a => new YamlScalarNode(Text(a)))));
        _operations.Add(o);
        return this;
    }

    private ScenarioBuilder Set(YamlMappingNode map, string key, object value)
    {
        Put(map, key, value);
        return this;
    }

    private static void Put(YamlMappingNode map, string key, object value) => map.Children[new YamlScalarNode(key)] = new YamlScalarNode(Text(value));

    private static string Text(object value) => value switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
