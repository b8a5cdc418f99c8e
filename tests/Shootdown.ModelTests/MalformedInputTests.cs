using System.Text.RegularExpressions;
using Shootdown.Scenarios;
using Shootdown.Scenarios.Topology;

namespace Shootdown.Tests;

/// <summary>
/// Hundreds of malformed scenarios, hwloc files and lscpu files, made by mutating good ones:
/// each either still parses, or fails with a <see cref="ScenarioException"/> that names the
/// file, a line and a field. Nothing else may escape (no stack traces), and through the CLI,
/// bad input exits 2 and writes no result file.
/// </summary>
public sealed class MalformedInputTests
{
    [Fact]
    public void MutatedScenariosFailWithFileLineAndField()
    {
        var failures = 0;
        foreach (var (name, text) in ScenarioMutants.All())
        {
            try
            {
                ScenarioLoader.ParseFile("fuzz.yaml", text);
            }
            catch (ScenarioException e)
            {
                failures++;
                Assert.True(e.File == "fuzz.yaml" && e.Line >= 1 && e.Field.Length > 0 && e.Problem.Length > 0, $"{name}: {e.Message}");
            }
            catch (Exception e)
            {
                Assert.Fail($"{name}: {e.GetType().Name} escaped: {e.Message}");
            }
        }
        Assert.True(failures >= 300, $"only {failures} mutants were rejected");
    }

    public static IEnumerable<(string Name, string Text)> HwlocMutants()
    {
        var good = File.ReadAllText(Sim.TopologyPath("hwloc/96em64t-4n4d3ca2co-pci.xml"));
        for (var cut = 1; cut < good.Length - 20; cut += good.Length / 150)
            yield return ($"truncated at {cut}", good[..cut]);
        yield return ("non-square matrix", good.Replace("<u64values length=\"18\">10 26 26 26 26 10 </u64values>", "<u64values length=\"15\">10 26 26 26 26</u64values>"));
        yield return ("duplicate os_index", ScenarioMutants.ReplaceNth(good, "type=\"PU\" os_index=\"5\"", "type=\"PU\" os_index=\"4\"", 0));
        yield return ("bad cpuset", good.Replace("cpuset=\"0x00ffffff\"", "cpuset=\"0xZZ\""));
        yield return ("unknown node in matrix", good.Replace("<indexes length=\"8\">0 1 2 3 </indexes>", "<indexes length=\"8\">0 1 2 9 </indexes>"));
        yield return ("wrong nbobjs", good.Replace("nbobjs=\"4\"", "nbobjs=\"5\""));
        yield return ("negative os_index", ScenarioMutants.ReplaceNth(good, "type=\"PU\" os_index=\"5\"", "type=\"PU\" os_index=\"-5\"", 0));
        yield return ("PU without os_index", ScenarioMutants.ReplaceNth(good, "type=\"PU\" os_index=\"5\"", "type=\"PU\"", 0));
        yield return ("hwloc 1.x", good.Replace("version=\"3.0\"", "version=\"1.11\""));
        yield return ("not xml at all", "<<<>>>");
        yield return ("entity bomb", "<?xml version=\"1.0\"?><!DOCTYPE t [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><topology>&b;</topology>");
    }

    public static IEnumerable<(string Name, string Text)> LscpuMutants()
    {
        var good = File.ReadAllText(Sim.TopologyPath("lscpu/lscpu-x86_64-epyc_7451"));
        var lines = good.Split('\n');
        var header = Array.FindIndex(lines, l => l.StartsWith("# CPU,"));
        for (var i = header + 2; i < lines.Length && lines[i].Contains(',') && !lines[i].StartsWith('#'); i += 3)
        {
            var copy = (string[])lines.Clone();
            copy[i] = lines[i] + ",7";
            yield return ($"extra column line {i + 1}", string.Join('\n', copy));
            copy[i] = lines[i][..(lines[i].IndexOf(',') + 1)] + "x" + lines[i][lines[i].IndexOf(',', lines[i].IndexOf(',') + 1)..];
            yield return ($"bad number line {i + 1}", string.Join('\n', copy));
            copy[i] = lines[header + 1];
            yield return ($"duplicate CPU line {i + 1}", string.Join('\n', copy));
        }
        yield return ("no rows", string.Join('\n', lines.Take(header + 1)));
        yield return ("no header", string.Join('\n', lines.Take(header)));
        yield return ("header without CPU", good.Replace("# CPU,Core", "# Processor,Core"));
    }

    [Fact]
    public void MutatedTopologyFilesFailWithFileLineAndField()
    {
        var cases = HwlocMutants().Select(m => ("fuzz.xml", m.Name, m.Text)).Concat(LscpuMutants().Select(m => ("fuzz.lscpu", m.Name, m.Text))).ToList();
        Assert.True(cases.Count >= 200, $"{cases.Count} cases");
        foreach (var (file, name, text) in cases)
        {
            var e = Record.Exception(() => TopologyFiles.Parse(file, text));
            Assert.True(e is ScenarioException, $"{file} {name}: {(e is null ? "was accepted" : $"{e.GetType().Name}: {e.Message}")}");
            var s = (ScenarioException)e!;
            Assert.True(s.File == file && s.Line >= 1 && s.Field.Length > 0, $"{name}: {s.Message}");
        }
    }

    [Fact]
    public void AnAliasBombIsRefusedBeforeItExpands()
    {
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + string.Concat(Enumerable.Range(0, 20).Select(i => $"{(char)('b' + i)}: &{(char)('b' + i)} [*{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}]\n"));
        var e = Assert.Throws<ScenarioException>(() => ScenarioLoader.ParseFile("bomb.yaml", bomb));
        Assert.Contains("anchors and aliases", e.Message);
    }

    [Theory]
    [InlineData("scenario.yaml", "-byte limit for a scenario")]
    [InlineData("machine.xml", "-byte limit for a topology file")]
    public void ATwoGigabyteFileIsRefusedUnread(string name, string problem)
    {
        var path = Path.Combine(Sim.TempDir(), name);
        using (var f = File.Create(path)) f.SetLength(2L << 30); // sparse: no disk used
        try
        {
            var e = name.EndsWith(".xml")
                ? Assert.Throws<ScenarioException>(() => TopologyFiles.Import(path))
                : Assert.Throws<ScenarioException>(() => ScenarioLoader.Load(path));
            Assert.Contains(problem, e.Message);
            Assert.Contains("2,147,483,648 bytes", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("machine: pack:2 core:128 pu:257\nduration_us: 10\n", "machine", "65536")]
    [InlineData("machine:\n  preset: small-64\n  scale: 65537\n", "machine.scale", "out of range")]
    [InlineData("machine: small-64\nduration_us: 60000000\nprocesses:\n  - name: p\n    cpus: 0\noperations:\n  - type: flush_range\n    process: p\n    cpus: 0-63\n    rate_per_s: 1000000\n", "operations[0].rate_per_s", "the limit is 10,000,000")]
    [InlineData("machine: small-64\nduration_us: 60000001\n", "duration_us", "out of range")]
    public void LimitsAreExplicit(string yaml, string field, string problem)
    {
        var e = Assert.Throws<ScenarioException>(() => ScenarioLoader.ParseFile("limits.yaml", yaml));
        Assert.Equal(field, e.Field);
        Assert.Contains(problem, e.Message);
    }
}
