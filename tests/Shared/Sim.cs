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

    /// <summary>A new, empty folder, removed when the assembly's tests are done (<see cref="TestFolders"/>).</summary>
    public static string TempDir() => TestFolders.Create();

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

    /// <summary>Eight CPUs collapsing back to back for one process on a 32-CPU machine: a storm in miniature, with coalescing.</summary>
    public const string StormWorkload = """
            machine: pack:2 numa:2 core:8 pu:2
            duration_us: 300
            seed: 11
            processes:
              - name: storm
                threads: 8
                cpus: 0-7
            operations:
              - type: collapse_huge_page
                process: storm
                cpus: 0-7
                back_to_back: true
            """;

    /// <summary>Three processes sharing two hugetlb PMD tables, two of them unsharing while the parent runs and sleeps.</summary>
    public const string HugetlbSharersWorkload = """
            machine: pack:2 numa:2 core:8 pu:2
            duration_us: 2000
            seed: 3
            processes:
              - name: parent
                threads: 4
                cpus: 0-3
                run_us: 50
                sleep_us: 20
              - name: child
                threads: 2
                cpus: 4-5
              - name: sibling
                threads: 2
                cpus: 6-7
            hugetlb_shares:
              - name: sga
                processes: [parent, child, sibling]
                tables: 2
            operations:
              - type: hugetlb_unshare
                process: child
                cpu: 4
                at_us: [100, 300]
              - type: hugetlb_unshare
                process: sibling
                cpu: 6
                at_us: [200, 900]
            """;

    /// <summary>
    /// Threads that run, sleep, migrate and share CPUs round robin under periodic IRQ-off windows,
    /// with a rate-driven flush and collapse stream: the scheduler's paths, for engine equality and entity state.
    /// </summary>
    public const string MigrationWorkload = """
        machine: pack:2 numa:1 core:8 pu:2
        duration_us: 3000
        seed: 5
        timeslice_us: 100
        realtime_cpus: 30-31
        processes:
          - name: web
            threads: 24
            cpus: 0-15
            run_us: 80
            sleep_us: 40
            migrate_us: 150
          - name: batch
            threads: 8
            cpus: 8-15
        operations:
          - type: flush_range
            process: web
            cpu: 2
            pages: 40
            rate_per_s: 20000
          - type: collapse_huge_page
            process: web
            cpu: 20
            rate_per_s: 5000
        irqs_off:
          - cpus: 0-15
            period_us: 7
            duration_us: 1.5
        """;
}
