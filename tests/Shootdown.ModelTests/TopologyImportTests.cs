using Shootdown.Model.Topology;
using Shootdown.Scenarios;
using Shootdown.Scenarios.Topology;

namespace Shootdown.Tests;

/// <summary>Real machines from hwloc's and util-linux's test suites (topologies/README.md), imported with the right shape.</summary>
public sealed class TopologyImportTests
{
    [Theory]
    [InlineData("hwloc/16amd64-4distances.xml", 16, 16, 8, 8, 0)]
    [InlineData("hwloc/96em64t-4n4d3ca2co-pci.xml", 96, 96, 16, 4, 16)]
    [InlineData("hwloc/AMD-17h-Zen-2xEpyc-7451.xml", 96, 48, 2, 1, 16)]
    [InlineData("hwloc/Intel-KnightsLanding-XeonPhi-7210.xml", 256, 64, 1, 1, 0)]
    [InlineData("hwloc/Intel-Skylake-2xXeon6140.xml", 72, 36, 2, 1, 2)]
    [InlineData("hwloc/irregulargroups-disallowed.xml", 16, 16, 2, 2, 2)] // 64 PUs, 16 allowed
    [InlineData("lscpu/lscpu-x86_64-epyc_7451", 96, 48, 2, 8, 16)]
    [InlineData("lscpu/lscpu-x86_64-64cpu", 64, 32, 4, 3, 4)] // nodes 0, 2 and 3
    [InlineData("lscpu/lscpu-ppc64-POWER7-64cpu", 64, 16, 16, 1, 0)] // node 1 has no CPUs
    [InlineData("lscpu/lscpu-s390-lpar-drawer", 8, 8, 2, 1, 0)]
    public void EveryFixtureImportsWithItsCounts(string file, int cpus, int cores, int packages, int nodes, int l3)
    {
        var m = TopologyFiles.Import(Sim.TopologyPath(file));
        Assert.Equal((cpus, cores, packages, nodes, l3), (m.CpuCount, m.CoreCount, m.PackageCount, m.NodeCount, m.L3Count));
        Assert.Equal(cpus, Enumerable.Range(0, cpus).Select(m.ApicIdOf).Distinct().Count());
    }

    [Theory]
    [InlineData("hwloc/Intel-KnightsLanding-XeonPhi-7210.xml", 0, new[] { 0, 64, 128, 192 })]
    [InlineData("hwloc/Intel-Skylake-2xXeon6140.xml", 5, new[] { 5, 41 })]
    [InlineData("lscpu/lscpu-x86_64-epyc_7451", 47, new[] { 47, 95 })]
    [InlineData("lscpu/lscpu-ppc64-POWER7-64cpu", 9, new[] { 8, 9, 10, 11 })]
    [InlineData("hwloc/96em64t-4n4d3ca2co-pci.xml", 7, new[] { 7 })]
    public void SmtSiblingSets(string file, int cpu, int[] siblings)
    {
        var m = TopologyFiles.Import(Sim.TopologyPath(file));
        Assert.Equal(siblings, Enumerable.Range(0, m.CpuCount).Where(c => m.CoreOf(c) == m.CoreOf(cpu)));
    }

    [Fact]
    public void TheSlitComesFromDistances2()
    {
        var ibm = TopologyFiles.Import(Sim.TopologyPath("hwloc/96em64t-4n4d3ca2co-pci.xml"));
        Assert.Equal([10, 26, 26, 26, 26, 10, 26, 26, 26, 26, 10, 26, 26, 26, 26, 10], Matrix(ibm));
        // The cgroup slice keeps only its two allowed nodes' part of the 8x8 UV matrix.
        var uv = TopologyFiles.Import(Sim.TopologyPath("hwloc/irregulargroups-disallowed.xml"));
        Assert.Equal([10, 50, 50, 10], Matrix(uv));
        // lscpu has no distances: Linux's 10/20.
        var lscpu = TopologyFiles.Import(Sim.TopologyPath("lscpu/lscpu-x86_64-64cpu"));
        Assert.Equal([10, 20, 20, 20, 10, 20, 20, 20, 10], Matrix(lscpu));
        Assert.Equal([0, 2, 3], Enumerable.Range(0, 3).Select(lscpu.NodeOsIndexOf));
    }

    [Fact]
    public void Distances2IndexesMapByOsIndex_InTheOrderTheFileGivesThem()
    {
        // Nodes 1 and 0 are listed in that order, as in 16amd64-4distances.xml; rows follow the indexes.
        var xml = TwoNodeXml("3.0", indexes: "1 0", values: "10 40 30 10");
        var m = HwlocXml.Parse("two.xml", xml, "two");
        // Node os 0 is dense node 0: its row is the file's second row (30 10) read in the file's column order.
        Assert.Equal(10, m.NodeDistance(0, 0));
        Assert.Equal(30, m.NodeDistance(0, 1));
        Assert.Equal(40, m.NodeDistance(1, 0));
    }

    [Fact]
    public void Hwloc2AndHwloc3FilesGiveTheSameMachine()
    {
        var v3 = File.ReadAllText(Sim.TopologyPath("hwloc/96em64t-4n4d3ca2co-pci.xml"));
        var v2 = System.Text.RegularExpressions.Regex.Replace(v3.Replace("version=\"3.0\"", "version=\"2.0\""), " id=\"obj[0-9]+\"", "");
        var a = HwlocXml.Parse("v3.xml", v3, "m");
        var b = HwlocXml.Parse("v2.xml", v2, "m");
        Assert.Equal(Shape(a), Shape(b));
        Assert.Contains("version 1.0", Assert.Throws<ScenarioException>(() => HwlocXml.Parse("v1.xml", v3.Replace("version=\"3.0\"", "version=\"1.0\""), "m")).Message);
    }

    [Fact]
    public void OfflineAndDisallowedPusAreNotSimulated()
    {
        // Root cpuset 0x5 (PUs 0 and 2 online), allowed_cpuset 0x1: only PU 0 is simulated.
        var xml = TwoNodeXml("3.0", "0 1", "10 20 20 10").Replace("<object type=\"Machine\" cpuset=\"0x0000000f\"", "<object type=\"Machine\" cpuset=\"0x00000005\" allowed_cpuset=\"0x00000001\"");
        var m = HwlocXml.Parse("slice.xml", xml, "slice");
        Assert.Equal(1, m.CpuCount);
        Assert.Equal(0, m.OsIndexOf(0));
        Assert.Equal(1, m.NodeCount);
    }

    [Fact]
    public void TheEpyc7451IsTheSameMachineFromHwlocAndFromLscpu()
    {
        var xml = TopologyFiles.Import(Sim.TopologyPath("hwloc/AMD-17h-Zen-2xEpyc-7451.xml"));
        var lscpu = TopologyFiles.Import(Sim.TopologyPath("lscpu/lscpu-x86_64-epyc_7451"));
        Assert.Equal(Shape(xml), Shape(lscpu));
        // hwloc's x86 (CPUID) backend sees no NUMA; lscpu reads the kernel's 8 nodes of 6 cores each.
        Assert.Equal((1, 8), (xml.NodeCount, lscpu.NodeCount));
    }

    [Fact]
    public void ScalingReplicatesWholePackages()
    {
        var epyc = TopologyFiles.Import(Sim.TopologyPath("lscpu/lscpu-x86_64-epyc_7451"));
        var big = MachineScaling.Scale(epyc, 8160);
        Assert.Equal((8160, 4080, 170, 680, 1360), (big.CpuCount, big.CoreCount, big.PackageCount, big.NodeCount, big.L3Count));
        // Copy 1 starts at CPU 96 and repeats copy 0's layout: CPU 96+48 is CPU 96's sibling.
        Assert.Equal(big.CoreOf(96), big.CoreOf(144));
        Assert.Equal(epyc.NodeDistance(0, 5), big.NodeDistance(0, 5));
        Assert.Equal(30, big.NodeDistance(0, 8)); // another copy: the source's largest distance (20) + 10
        Assert.Equal(big.CpuCount, Enumerable.Range(0, big.CpuCount).Select(big.ApicIdOf).Distinct().Count());
        var e = Assert.Throws<TopologySpecException>(() => MachineScaling.Scale(epyc, 8192));
        Assert.Contains("8160 or 8208", e.Message);
        Assert.Equal(48, MachineScaling.Scale(epyc, 48).CpuCount); // one package
    }

    private static int[] Matrix(Machine m) =>
        Enumerable.Range(0, m.NodeCount).SelectMany(a => Enumerable.Range(0, m.NodeCount).Select(b => m.NodeDistance(a, b))).ToArray();

    /// <summary>Everything but NUMA: the CPU count and the CPU sets of each core, package and L3 domain.</summary>
    private static string Shape(Machine m)
    {
        string Sets(Func<int, int> of) => string.Join(";", Enumerable.Range(0, m.CpuCount).GroupBy(of).Select(g => CpuList.Format(g)).Order());
        return $"{m.CpuCount}|{Sets(m.CoreOf)}|{Sets(m.PackageOf)}|{Sets(m.L3Of)}";
    }

    /// <summary>A 4-PU, 2-package, 2-node hwloc file.</summary>
    internal static string TwoNodeXml(string version, string indexes, string values) => $"""
        <?xml version="1.0" encoding="UTF-8"?>
        <!DOCTYPE topology SYSTEM "hwloc2.dtd">
        <topology version="{version}">
          <object type="Machine" cpuset="0x0000000f" os_index="0" gp_index="1">
            <object type="Package" os_index="0" cpuset="0x00000003" gp_index="2">
              <object type="NUMANode" os_index="0" cpuset="0x00000003" gp_index="3"/>
              <object type="Core" os_index="0" cpuset="0x00000003" gp_index="4">
                <object type="PU" os_index="0" cpuset="0x00000001" gp_index="5"/>
                <object type="PU" os_index="1" cpuset="0x00000002" gp_index="6"/>
              </object>
            </object>
            <object type="Package" os_index="1" cpuset="0x0000000c" gp_index="7">
              <object type="NUMANode" os_index="1" cpuset="0x0000000c" gp_index="8"/>
              <object type="Core" os_index="0" cpuset="0x0000000c" gp_index="9">
                <object type="PU" os_index="2" cpuset="0x00000004" gp_index="10"/>
                <object type="PU" os_index="3" cpuset="0x00000008" gp_index="11"/>
              </object>
            </object>
          </object>
          <distances2 type="NUMANode" nbobjs="2" kind="5" name="NUMALatency" indexing="os">
            <indexes length="3">{indexes}</indexes>
            <u64values length="11">{values}</u64values>
          </distances2>
        </topology>
        """;
}
