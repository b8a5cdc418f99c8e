using Shootdown.Engine;
using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>Helpers to run small scenarios written inline, on the reference engine, and the files tests share.</summary>
internal static class Sim
{
    public static Scenario Parse(string yaml) => ScenarioLoader.Parse("inline.yaml", yaml);

    public static PolicyResult Run(string yaml, KernelPolicy policy) =>
        new ReferenceEngine(Parse(yaml).SetupFor(policy)).Run();

    /// <summary>Every policy the scenario lists, on the reference engine, by policy name.</summary>
    public static Dictionary<string, PolicyResult> RunEveryPolicy(Scenario scenario) =>
        scenario.Policies.ToDictionary(p => p.Name, p => new ReferenceEngine(scenario.SetupFor(p)).Run());

    public static string ScenarioPath(string name) => Path.Combine(AppContext.BaseDirectory, "scenarios", name);

    public static string TopologyPath(string name) => Path.Combine(AppContext.BaseDirectory, "topologies", name);

    public static string TempDir() => Directory.CreateTempSubdirectory("shootdown-test-").FullName;

    /// <summary>Writes <paramref name="text"/> to <paramref name="name"/> under <paramref name="dir"/>, making its folders.</summary>
    public static string Write(string dir, string name, string text)
    {
        var path = Path.Combine(dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>A workload for machines of 9 CPUs or more: one process on CPUs 0-7, three collapses from CPU 8.</summary>
    public const string SmallWorkload = """
        duration_us: 1000
        processes:
          - name: db
            cpus: 0-7
        operations:
          - type: collapse_huge_page
            process: db
            cpu: 8
            at_us: [100, 300, 500]
        """;
}
