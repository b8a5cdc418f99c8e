using ArchUnitNET.Domain;
using ArchUnitNET.Loader;
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
