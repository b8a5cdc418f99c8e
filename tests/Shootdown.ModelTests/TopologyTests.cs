using Shootdown.Model.Topology;
using Shootdown.Model.Costs;

namespace Shootdown.Tests;

public sealed class TopologyTests
{
    [Theory]
    [InlineData("pack:46341 core:1 pu:1")] // once an Int32 overflow in the distance matrix
    [InlineData("pack:65536 core:1 pu:1")] // once an IndexOutOfRangeException
    [InlineData("pack:1025 core:1 pu:1")]
    [InlineData("pack:513 numa:2 core:2 pu:1")]
    public void MoreNumaNodesThanLinuxAllowsAreRefusedBeforeTheDistanceMatrix(string spec)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<TopologySpecException>(() => SyntheticSpec.Parse(spec));
        Assert.Contains("Linux allows at most 1024", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 << 20, "a refused spec allocated its machine");
    }

    [Fact]
    public void TheLargestNodeCountIsAccepted()
    {
        var m = SyntheticSpec.Parse("pack:1024 core:2 pu:1");
        Assert.Equal(1024, m.NodeCount);
        Assert.Equal(21, m.NodeDistance(0, 1023));
        var e = Assert.Throws<TopologySpecException>(() => MachineScaling.Scale(SyntheticSpec.Parse("pack:1 core:1 pu:1"), 46_340));
        Assert.Contains("46,340 NUMA nodes", e.Message);
        // A refused size names the largest that fits: this 2-CPU laptop as 4096 CPUs would take 2,048 nodes.
        e = Assert.Throws<TopologySpecException>(() => MachineScaling.Scale(SyntheticSpec.Parse("pack:1 core:2 pu:1"), 4096));
        Assert.Equal("4,096 CPUs would take 2,048 NUMA nodes; Linux allows at most 1024 (MAX_NUMNODES with NODES_SHIFT 10): " +
                     "try at most 2,048 CPUs, or a source machine with more CPUs per node", e.Message);
        Assert.Equal(2048, MachineScaling.Scale(SyntheticSpec.Parse("pack:1 core:2 pu:1"), 2048).CpuCount);
    }

    [Theory]
    [InlineData("2s-256", 256, 2, 128, 2)]
    [InlineData("8s-448", 448, 8, 224, 8)]
    [InlineData("uv-4096", 4096, 256, 2048, 256)]
    [InlineData("maxsmp-8192", 8192, 64, 4096, 64)]
    public void PresetsHaveTheAdvertisedShape(string preset, int cpus, int packages, int cores, int nodes)
    {
        var m = Presets.Resolve(preset);
        Assert.Equal((cpus, packages, cores, nodes), (m.CpuCount, m.PackageCount, m.CoreCount, m.NodeCount));
        // x2APIC logical clusters hold 16 APIC IDs; APIC IDs are unique.
        Assert.Equal(cpus, Enumerable.Range(0, cpus).Select(m.ApicIdOf).Distinct().Count());
        Assert.All(Enumerable.Range(0, cpus).GroupBy(m.X2ApicClusterOf), g => Assert.InRange(g.Count(), 1, 16));
    }

    [Fact]
    public void SmtSiblingsAreNumberedOneCoreCountApart_AsLinuxEnumeratesThem()
    {
        var m = SyntheticSpec.Parse("pack:2 numa:1 core:24 pu:2");
        Assert.Equal(CpuRelation.SmtSibling, m.Relation(0, 48));
        Assert.Equal(CpuRelation.SameL3, m.Relation(0, 1));
        Assert.Equal(CpuRelation.RemotePackage, m.Relation(0, 24));
        Assert.Equal(m.CoreOf(5), m.CoreOf(53));
    }

    [Fact]
    public void CoresInAnotherL3DomainOfThePackageAreOnlySamePackage()
    {
        var m = SyntheticSpec.Parse("pack:1 l3:2 core:4 pu:1");
        Assert.Equal(CpuRelation.SameL3, m.Relation(0, 1));
        Assert.Equal(CpuRelation.SamePackage, m.Relation(0, 2));
    }

    [Fact]
    public void TheSlitFollowsTheHierarchy()
    {
        var m = SyntheticSpec.Parse("group:2 group:2 pack:2 numa:2 core:2 pu:1");
        Assert.Equal(16, m.NodeCount);
        for (var a = 0; a < m.NodeCount; a++)
        for (var b = 0; b < m.NodeCount; b++)
            Assert.Equal(m.NodeDistance(a, b), m.NodeDistance(b, a));
        Assert.Equal(10, m.NodeDistance(0, 0));
        Assert.Equal(12, m.NodeDistance(0, 1)); // same package
        Assert.Equal(21, m.NodeDistance(0, 2)); // same innermost group
        Assert.Equal(31, m.NodeDistance(0, 4)); // same outer group
        Assert.Equal(41, m.NodeDistance(0, 8)); // across the machine
        Assert.Equal(3, m.NumaHops(0, 8)); // SLIT 41: round(31 / 11) hops
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("pack:2 core:0", "count must be")]
    [InlineData("core:2 pack:2", "outermost first")]
    [InlineData("pack:2 core:3 numa:2", "outermost first")]
    [InlineData("pack:2 numa:2 core:3", "split evenly")]
    [InlineData("pack:1024 core:64 pu:2", "65536")]
    [InlineData("blade:2", "unknown level")]
    public void RejectsBadSpecs(string spec, string problem) =>
        Assert.Contains(problem, Assert.Throws<TopologySpecException>(() => SyntheticSpec.Parse(spec)).Message);

    [Fact]
    public void AcceptsTheLargestMachine() => Assert.Equal(Machine.MaxCpus, SyntheticSpec.Parse("pack:256 core:128 pu:2").CpuCount);
}
