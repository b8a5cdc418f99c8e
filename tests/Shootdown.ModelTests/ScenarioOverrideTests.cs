using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>--set, --seed and --duration: a value from the command line is checked as the file's own, and a fault in it names the argument.</summary>
public sealed class ScenarioOverrideTests
{
    private const string Text = """
        machine: small-64
        duration_us: 2000
        processes:
          - name: db
            cpus: 0-15
        operations:
          - type: collapse_huge_page
            process: db
            cpu: 16
            rate_per_s: 1000
        """;

    private static ScenarioFile Load(string text, params ScenarioOverride[] overrides) => ScenarioLoader.ParseFile("s.yaml", text, overrides);

    private static ScenarioException Refused(string text, params ScenarioOverride[] overrides) => Assert.Throws<ScenarioException>(() => Load(text, overrides));

    [Fact]
    public void OverridesReplaceFieldsAddMissingOnesAndAreRecorded()
    {
        var file = Load(Text, ScenarioOverride.Parse("operations[0].rate_per_s=250"), ScenarioOverride.Seed("7"), ScenarioOverride.Duration("5ms"),
            ScenarioOverride.Parse("realtime_cpus=60-61"), ScenarioOverride.Parse("platform.cpuidle=poll"));
        var s = file.Points[0].Scenario;
        Assert.Equal((7UL, 5_000_000L), (s.Seed, s.DurationNs));
        Assert.Equal([60, 61], s.Workload.RealtimeCpus.ToArray());
        // A mapping the file does not have is made on the way: the scenario had no platform section.
        Assert.Equal("poll", s.Features.Cpuidle.Name);
        Assert.Equal(250, s.Workload.Operations[0].RatePerSecond);
        Assert.Equal(["operations[0].rate_per_s=250", "seed=7", "duration_us=5000", "realtime_cpus=60-61", "platform.cpuidle=poll"], file.Overrides.Select(o => o.ToString()));
    }

    [Theory]
    [InlineData("200ms", 200_000_000L)]
    [InlineData("2s", 2_000_000_000L)]
    [InlineData("750us", 750_000L)]
    [InlineData("750µs", 750_000L)]
    [InlineData("1500ns", 1_500L)]
    public void DurationsTakeAUnit(string text, long ns) => Assert.Equal(ns, Load(Text, ScenarioOverride.Duration(text)).Points[0].Scenario.DurationNs);

    [Fact]
    public void FaultsNameTheArgumentNotALineOfTheFile()
    {
        Assert.Equal("--set operations[0].rate_per_s=-1: operations[0].rate_per_s: -1 is out of range: expected 0 to 1000000000",
            Refused(Text, ScenarioOverride.Parse("operations[0].rate_per_s=-1")).Message);
        Assert.Equal("--seed x: seed: must be a whole number", Refused(Text, ScenarioOverride.Seed("x")).Message);
        Assert.Equal("--set operations[3].cpu=1: operations[3].cpu: the scenario has no 'operations[3]'",
            Refused(Text, ScenarioOverride.Parse("operations[3].cpu=1")).Message);
        Assert.Equal("--set realtime_cpus=[60, 61]: realtime_cpus: must be a CPU list like 0-3,8",
            Refused(Text, ScenarioOverride.Parse("realtime_cpus=[60, 61]")).Message);
        Assert.StartsWith("--set platform.colour=red: platform.colour: unknown field", Refused(Text, ScenarioOverride.Parse("platform.colour=red")).Message);
        Assert.StartsWith("--set colour=red: colour: unknown field", Refused(Text, ScenarioOverride.Parse("colour=red")).Message);
        Assert.Equal("--duration 5: duration_us: expected a number with a unit: ns, us (or µs), ms or s, as in 200ms",
            Assert.Throws<ScenarioException>(() => ScenarioOverride.Duration("5")).Message);
        Assert.Equal("--set 5: (argument): expected PATH=VALUE, a path like machine.scale or operations[0].rate_per_s",
            Assert.Throws<ScenarioException>(() => ScenarioOverride.Parse("5")).Message);
        Assert.Equal("--set name=x: name: this field cannot be set from the command line",
            Assert.Throws<ScenarioException>(() => ScenarioOverride.Parse("name=x")).Message);
    }

    [Fact]
    public void EverySweepPointGetsTheOverrideAndASweptPathCannotBeSet()
    {
        var sweep = Text + "\nsweep:\n  operations[0].rate_per_s: [100, 200]\n";
        var file = Load(sweep, ScenarioOverride.Seed("9"));
        Assert.All(file.Points, p => Assert.Equal(9UL, p.Scenario.Seed));
        Assert.Equal("--set operations[0].rate_per_s=5: operations[0].rate_per_s: this path is swept by the scenario's sweep; set another field, or edit the sweep",
            Refused(sweep, ScenarioOverride.Parse("operations[0].rate_per_s=5")).Message);
    }
}
