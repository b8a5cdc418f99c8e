namespace Shootdown.Tests;

/// <summary>
/// The console samples in README and docs/ are what the tool prints: each is run here as the
/// text says, and the block must match its standard output byte for byte.
/// </summary>
public sealed class DocSampleTests
{
    /// <summary>The first fenced block after <paramref name="marker"/> in a shipped document, with its final newline.</summary>
    private static string Block(string document, string marker)
    {
        var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, document));
        var at = text.IndexOf(marker, StringComparison.Ordinal);
        Assert.True(at >= 0, $"{document} has no '{marker}'");
        var open = text.IndexOf("```\n", at, StringComparison.Ordinal) + 4;
        return text[open..text.IndexOf("```\n", open, StringComparison.Ordinal)];
    }

    [Fact]
    public void TheReadmeSampleIsWhatTheMainCommandPrintsWithEightSeeds()
    {
        var (exit, stdout, stderr) = Cli.Shootdown("run", Sim.ScenarioPath("khugepaged-4096.yaml"), "--seeds", "8");
        Assert.True(exit == 0, stderr);
        Assert.Equal(Block("README.md", "## Sample output"), stdout);
    }

    [Fact]
    public void TheHistogramSampleIsTheLastMapTheToolPrints()
    {
        var (exit, stdout, stderr) = Cli.Shootdown("run", Sim.ScenarioPath("small-64.yaml"), "--engine", "reference", "--seeds", "2", "--hist");
        Assert.True(exit == 0, stderr);
        var sample = Block(Path.Combine("docs", "outputs.md"), "`--hist` adds the distributions");
        Assert.EndsWith(sample + "\n", stdout);
    }

    [Fact]
    public void TheSweepSampleIsWhatTheSweepPrints()
    {
        var (exit, stdout, stderr) = Cli.Shootdown("run", Sim.ScenarioPath("sweep-cpus.yaml"), "--engine", "reference", "--seeds", "3");
        Assert.True(exit == 0, stderr);
        Assert.Equal(Block(Path.Combine("docs", "scenarios.md"), "run scenarios/sweep-cpus.yaml --engine reference --seeds 3"), stdout);
    }
}
