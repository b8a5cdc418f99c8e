using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>Bad scenarios fail with file, line, column and field, never a stack trace.</summary>
public sealed class ScenarioErrorTests
{
    private const string Valid = """
        machine: small-64
        duration_us: 100
        processes:
          - name: db
            cpus: 0-7
        operations:
          - type: collapse_huge_page
            process: db
            cpu: 0
            rate_per_s: 1000
        """;

    private static ScenarioException Fails(string yaml) => Assert.Throws<ScenarioException>(() => ScenarioLoader.Parse("bad.yaml", yaml));

    [Fact]
    public void TheValidBaseParses() => Assert.Equal(64, ScenarioLoader.Parse("ok.yaml", Valid).Machine.CpuCount);

    [Theory]
    [InlineData("colour: blue\n", 1, "colour", "unknown field")]
    [InlineData("machine: small-64\nduration_us: 100\nprocesses:\n  - name: db\n    cpus: 0-99999\n", 5, "processes[0].cpus", "out of range")]
    [InlineData("machine: small-64\nduration_us: 100\nprocesses:\n  - name: db\n    cpus: 5-3\n", 5, "processes[0].cpus", "runs backwards")]
    [InlineData("machine: small-64\nduration_us: -5\n", 2, "duration_us", "out of range")]
    [InlineData("machine: small-64\nduration_us: 100\nprocesses:\n  - name: db\n    cpus: 0\n    thread: 3\n", 6, "processes[0].thread", "unknown field")]
    [InlineData("machine: pack:2 core:x\n", 1, "machine", "count must be")]
    [InlineData("machine: small-64\nduration_us: 100\npolicies: [baseline, mainline]\n", 3, "policies", "unknown policy")]
    [InlineData("machine: small-64\nduration_us: 100\ncosts:\n  icr_write_ns: -1\n", 4, "costs.icr_write_ns", "out of range")]
    [InlineData("machine: small-64\nduration_us: [1\n", 3, "(yaml)", "")]
    [InlineData("base: &a [1, 2]\nmachine: small-64\n", 1, "(yaml)", "anchors")]
    [InlineData("machine: small-64\nduration_us: 100\nplatform:\n  flush: vmware\n", 4, "platform.flush", "unknown value 'vmware'")]
    [InlineData("machine: small-64\nduration_us: 100\nplatform:\n  arch: arm64\n  invlpgb: true\n", 5, "platform.invlpgb", "x86 options")]
    [InlineData("machine: small-64\nduration_us: 100\nkernel_config:\n  pt_reclaim: maybe\n", 4, "kernel_config.pt_reclaim", "")]
    [InlineData("machine: small-64\nduration_us: 100\nprocesses:\n  - name: db\n    cpus: 0\nwalkers:\n  - kind: pae_pmdp_get_lockless\n    process: db\n    cpus: 1\n    interval_us: 5\n    duration_us: 1\n", 7, "walkers[0].kind", "gup_get_pxx_low_high")]
    [InlineData("machine: small-64\nduration_us: 100\nprocesses:\n  - name: db\n    cpus: 0\nwalkers:\n  - kind: gup_slow\n", 7, "walkers[0].kind", "unknown walker")]
    [InlineData("machine: small-64\nduration_us: 100\nprocesses:\n  - name: db\n    cpus: 0\nsteal_time:\n  - cpus: 0\n    period_us: 5\n    duration_us: 5\n", 9, "steal_time[0].duration_us", "shorter than period_us")]
    [InlineData("machine: small-64\nduration_us: 100\nprocesses:\n  - name: db\n    cpus: 0\noperations:\n  - type: flush_range\n    process: db\n    cpu: 0\n    rate_per_s: 10\n    batch_alloc_fail: 0.5\n", 11, "operations[0].batch_alloc_fail", "only munmap_free_tables")]
    [InlineData("machine: small-64\nduration_us: 100\nprocesses:\n  - name: db\n    cpus: 0\noperations:\n  - type: flush_range\n    process: db\n    cpu: 0\n    at_us: [5]\n    start_us: 1\n", 11, "operations[0].start_us", "at_us already gives")]
    [InlineData("machine: small-64\nduration_us: 100\nprocesses:\n  - name: db\n    cpus: 0\noperations:\n  - type: flush_range\n    process: db\n    cpu: 0\n    back_to_back: true\n    start_us: 100\n", 11, "operations[0].start_us", "outside the run")]
    [InlineData("machine: small-64\nduration_us: 100\nprocesses:\n  - name: db\n    cpus: 0\noperations:\n  - type: flush_range\n    process: db\n    cpu: 0\n    back_to_back: true\n    count: 0\n", 11, "operations[0].count", "out of range")]
    [InlineData("machine: small-64\nduration_us: 100\nprocesses:\n  - name: a\n    cpus: 0\n  - name: b\n    cpus: 1\nhugetlb_shares:\n  - name: s\n    processes: [a, b]\n    tables: 0\n", 11, "hugetlb_shares[0].tables", "out of range")]
    public void ReportsWhereAndWhat(string yaml, int line, string field, string problem)
    {
        var e = Fails(yaml);
        Assert.Equal("bad.yaml", e.File);
        Assert.Equal(line, e.Line);
        Assert.Equal(field, e.Field);
        Assert.Contains(problem, e.Problem);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Theory]
    [InlineData("rate_per_s: 1000", "rate_per_s: -3", "out of range")]
    [InlineData("rate_per_s: 1000", "rate_per_s: 1000\n    at_us: [5]", "exactly one of")]
    [InlineData("process: db", "process: nobody", "no process named")]
    [InlineData("type: collapse_huge_page", "type: fork", "unknown operation")]
    [InlineData("cpu: 0", "cpu: 64", "out of range")]
    [InlineData("rate_per_s: 1000", "rate_per_s: 1000\n    khugepaged: {}", "exactly one of")]
    [InlineData("type: collapse_huge_page\n    process: db\n    cpu: 0\n    rate_per_s: 1000", "type: flush_range\n    process: db\n    cpu: 0\n    khugepaged: {}", "paces only what khugepaged does")]
    [InlineData("rate_per_s: 1000", "khugepaged: { scan_sleep_millisecs: -1 }", "out of range")]
    [InlineData("rate_per_s: 1000", "khugepaged: { scan_sleep: 10 }", "unknown field")]
    public void RejectsBadOperations(string from, string to, string problem)
    {
        var e = Fails(Valid.Replace(from, to));
        Assert.StartsWith("operations[0]", e.Field);
        Assert.Contains(problem, e.Problem);
    }

    [Fact]
    public void RefusesWorkloadsBeyondTheOperationLimit()
    {
        var e = Fails(Valid.Replace("duration_us: 100", "duration_us: 60000000").Replace("rate_per_s: 1000", "rate_per_s: 1000000"));
        Assert.Equal("operations[0].rate_per_s", e.Field);
        Assert.Contains("the limit is 10,000,000", e.Problem);
    }

    [Fact]
    public void RefusesAliasBombsWithoutExpandingThem()
    {
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + string.Concat(Enumerable.Range(0, 20).Select(i =>
            $"{(char)('b' + i)}: &{(char)('b' + i)} [*{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}]\n"));
        Assert.Contains("anchors", Fails(bomb).Problem);
    }

    [Fact]
    public void RefusesFilesLargerThanTheLimitBeforeReadingThem()
    {
        var path = Path.GetTempFileName();
        try
        {
            using (var f = File.OpenWrite(path)) f.SetLength(ScenarioLoader.MaxFileBytes + 1);
            var e = Assert.Throws<ScenarioException>(() => ScenarioLoader.LoadFile(path));
            Assert.Equal("(file)", e.Field);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("name: \"evil\\e]0;title\\a\"\n", "name", "U+001B")]
    [InlineData("description: \"beep\\a\"\n", "description", "U+0007")]
    [InlineData("name: \"c1\\x9b31m\"\n", "name", "U+009B")]
    public void ControlCharactersInNamesAreRefused(string line, string field, string character)
    {
        var e = Assert.Throws<ScenarioException>(() => Sim.Parse(line + "machine: small-64\nduration_us: 10\nprocesses:\n  - name: p\n    cpus: 0\n"));
        Assert.Equal(field, e.Field);
        Assert.Contains(character, e.Message);
        Assert.Equal("a\\x1bb\\x07", TerminalText.Escape("a\u001bb\u0007"));
    }

    [Theory]
    [InlineData(65, "")]
    [InlineData(60_000, "")]
    [InlineData(60_000, "unclosed")]
    public void DeepNestingIsRefusedBeforeItCanOverflowTheStack(int depth, string unclosed)
    {
        var text = "machine: small-64\nduration_us: 10\nprocesses: " + new string('[', depth) + (unclosed.Length > 0 ? "" : new string(']', depth)) + "\n";
        var e = Assert.Throws<ScenarioException>(() => Sim.Parse(text));
        Assert.Equal(("(yaml)", 3), (e.Field, e.Line));
        Assert.Contains("nested more than 64 deep", e.Message);
    }

    [Theory]
    [InlineData("/dev/zero", "is a character device, not a regular file")]
    [InlineData("/dev/urandom", "is a character device, not a regular file")]
    [InlineData("/", "is a directory, not a file")]
    public void RefusesSpecialFilesWithoutReadingThem(string path, string problem)
    {
        var e = Assert.Throws<ScenarioException>(() => ScenarioLoader.LoadFile(path));
        Assert.Equal("(file)", e.Field);
        Assert.Contains(problem, e.Message);
    }

    [Theory]
    [InlineData("0-3,8,10-11", new[] { 0, 1, 2, 3, 8, 10, 11 })]
    [InlineData("7", new[] { 7 })]
    public void CpuListsFollowLinuxSyntax(string text, int[] cpus)
    {
        Assert.Equal(cpus, CpuList.Parse(text, 64));
        Assert.Equal(text, CpuList.Format(cpus));
    }
}
