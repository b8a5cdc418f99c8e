using ArchUnitNET.Domain;
using ArchUnitNET.Loader;
using Shootdown.Analysis.Reporting;
using Shootdown.Model.Simulation;

namespace Shootdown.Tests;

/// <summary>
/// How the model's namespaces depend on one another, read from the compiled assembly (signatures
/// and method bodies, by ArchUnitNET), not from using directives: they form no cycle. Topology,
/// workload and statistics are at the bottom; costs, the state contract and events above them;
/// tracing, the safety records and checker, and the results above those; the kernel, which writes
/// those records and builds a run from its setup, on top.
/// </summary>
public sealed class ModelLayeringTests
{
    private const string Prefix = "Shootdown.Model.";

    [Fact]
    public void The_model_namespaces_form_no_cycle()
    {
        var architecture = new ArchLoader().LoadAssemblies(typeof(SimEvent).Assembly).Build();
        var edges = new HashSet<(string From, string To)>();
        foreach (var type in architecture.Types)
        {
            if (Slice(type.Namespace?.FullName) is not { } from) continue;
            foreach (var dependency in type.Dependencies)
                // A generic parameter is a dependency with no namespace.
                if (Slice(dependency.Target?.Namespace?.FullName) is { } to && to != from) edges.Add((from, to));
        }
        Assert.Empty(Cycles(edges));
        // The kernel is on top: nothing below reads it.
        Assert.Equal(["Kernel"], edges.Select(e => e.From).Except(edges.Select(e => e.To)));
    }

    /// <summary>
    /// The analysis library (reports, replay, calibration, in-process runs) is what the fast layer
    /// tests of runs: it reaches no silo, no grain implementation, no cluster client and not the CLI,
    /// read from its compiled references, the ones it depends on included.
    /// </summary>
    [Fact]
    public void The_analysis_library_reaches_no_silo_and_no_cluster_client()
    {
        var reached = new SortedSet<string>(StringComparer.Ordinal);
        var pending = new Stack<System.Reflection.AssemblyName>([typeof(HtmlReport).Assembly.GetName()]);
        while (pending.TryPop(out var name))
        {
            if (!reached.Add(name.Name!) || !name.Name!.StartsWith("Shootdown.", StringComparison.Ordinal)) continue;
            foreach (var reference in System.Reflection.Assembly.Load(name).GetReferencedAssemblies()) pending.Push(reference);
        }
        Assert.Contains("Shootdown.Engine", reached);
        Assert.DoesNotContain(reached, n => n is "shootdown" or "Shootdown.Hosting" or "shootdown-silo" or "Shootdown.Grains"
            or "Orleans.Runtime" or "Orleans.Client" or "Microsoft.Orleans.Runtime");
    }

    /// <summary>The model namespace a type is in, by its first part below the model's (Kernel for Kernel.Anything).</summary>
    private static string? Slice(string? ns) => ns is not null && ns.StartsWith(Prefix, StringComparison.Ordinal) ? ns[Prefix.Length..].Split('.')[0] : null;

    /// <summary>Each set of namespaces that all reach one another, as a sorted, comma-separated line.</summary>
    private static List<string> Cycles(HashSet<(string From, string To)> edges)
    {
        var nodes = edges.SelectMany(e => new[] { e.From, e.To }).Distinct().Order(StringComparer.Ordinal).ToList();
        var reach = nodes.ToDictionary(n => n, n => new HashSet<string>(edges.Where(e => e.From == n).Select(e => e.To)));
        // Transitive closure (Warshall): a dozen namespaces.
        foreach (var k in nodes)
            foreach (var i in nodes)
                if (reach[i].Contains(k)) reach[i].UnionWith(reach[k]);
        return nodes.Where(n => reach[n].Contains(n))
            .Select(n => string.Join(", ", nodes.Where(m => reach[n].Contains(m) && reach[m].Contains(n))))
            .Distinct().ToList();
    }
}
