using Shootdown.Scenarios;
using Shootdown.Scenarios.Topology;

namespace Shootdown.Tests;

/// <summary>
/// <c>machine: local</c> reads this host from sysfs: on a sysfs tree laid out as Linux lays it
/// out, then on this machine's own.
/// </summary>
public sealed class SysfsTopologyTests
{
    /// <summary>
    /// Two packages of two cores of two threads, numbered as Linux numbers them (a core's second
    /// thread four CPUs on), one L3 and one NUMA node per package, CPU 7 offline.
    /// </summary>
    private static string TwoSocketSysfs()
    {
        var root = Sim.TempDir();
        void Write(string path, string text)
        {
            var file = Path.Combine(root, "devices", "system", path);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file, text + "\n");
        }
        Write("cpu/online", "0-6");
        for (var cpu = 0; cpu < 8; cpu++)
        {
            var (package, core) = (cpu / 2 % 2, cpu % 2);
            Write($"cpu/cpu{cpu}/topology/physical_package_id", $"{package}");
            Write($"cpu/cpu{cpu}/topology/core_id", $"{core}");
            Write($"cpu/cpu{cpu}/cache/index0/level", "1");
            Write($"cpu/cpu{cpu}/cache/index0/shared_cpu_list", $"{cpu % 4},{cpu % 4 + 4}");
            Write($"cpu/cpu{cpu}/cache/index3/level", "3");
            Write($"cpu/cpu{cpu}/cache/index3/shared_cpu_list", package == 0 ? "0-1,4-5" : "2-3,6-7");
        }
        Write("node/node0/cpulist", "0-1,4-5");
        Write("node/node1/cpulist", "2-3,6");
        Write("node/node0/distance", "10 21");
        Write("node/node1/distance", "21 10");
        return root;
    }

    [Fact]
    public void ASysfsTreeGivesItsPackagesCoresCachesNodesAndDistances()
    {
        var m = SysfsTopology.Read(TwoSocketSysfs());
        Assert.Equal((7, 2, 4, 2, 2), (m.CpuCount, m.PackageCount, m.CoreCount, m.L3Count, m.NodeCount));
        // CPU 4 is CPU 0's second thread: the same core, package, L3 and node.
        Assert.Equal((m.CoreOf(0), m.PackageOf(0), m.L3Of(0), m.NodeOf(0)), (m.CoreOf(4), m.PackageOf(4), m.L3Of(4), m.NodeOf(4)));
        Assert.NotEqual(m.CoreOf(0), m.CoreOf(2)); // core_id 0 of package 1 is another core
        Assert.Equal((10, 21), (m.NodeDistance(0, 0), m.NodeDistance(0, 1)));
        Assert.StartsWith("local (", m.Name);
    }

    [Fact]
    public void AMissingOrMalformedSysfsFileIsOneLineNamingIt()
    {
        var root = TwoSocketSysfs();
        File.WriteAllText(Path.Combine(root, "devices", "system", "node", "node1", "distance"), "21\n");
        var e = Assert.Throws<ScenarioException>(() => SysfsTopology.Read(root));
        Assert.Equal($"{Path.Combine(root, "devices", "system", "node", "node1", "distance")}:0:0: machine: local: 1 distances for 2 online nodes", e.Message);
        File.Delete(Path.Combine(root, "devices", "system", "cpu", "cpu3", "topology", "core_id"));
        e = Assert.Throws<ScenarioException>(() => SysfsTopology.Read(root));
        Assert.Contains("cpu3/topology/core_id", e.Message);
        Assert.Contains("cannot be read here", e.Message);
    }

    /// <summary>This host, as a scenario names it: every online CPU of /sys/devices/system/cpu/online.</summary>
    [Fact]
    public void MachineLocalIsThisHost()
    {
        var online = CpuList.Parse(File.ReadAllText("/sys/devices/system/cpu/online").Trim(), 1 << 16);
        var scenario = ScenarioLoader.LoadFile(Sim.Write(Sim.TempDir(), "local.yaml", "machine: local\nduration_us: 10\nprocesses:\n  - name: p\n    cpus: 0\n"));
        Assert.Equal(online.Length, scenario.Machine.CpuCount);
        Assert.Equal(online, Enumerable.Range(0, scenario.Machine.CpuCount).Select(scenario.Machine.OsIndexOf));
    }
}
