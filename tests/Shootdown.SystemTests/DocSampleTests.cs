namespace Shootdown.Tests;

/// <summary>
/// The console samples in README and docs/ are what the tool prints: each is run here as the
/// text says, and the block must match its standard output byte for byte.
/// </summary>
public sealed class DocSampleTests
{
    [Fact]
    public void TheReadmeSampleIsWhatTheMainCommandPrintsWithEightSeeds()
    {
        var (exit, stdout, stderr) = Cli.Shootdown("run", Sim.ScenarioPath("khugepaged-4096.yaml"), "--seeds", "8");
        Assert.True(exit == 0, stderr);
        Assert.Equal(DocBlocks.After("README.md", "## Sample output"), stdout);
    }

    [Fact]
    public void TheHistogramSampleIsTheLastMapTheToolPrints()
    {
        var (exit, stdout, stderr) = Cli.Shootdown("run", Sim.ScenarioPath("small-64.yaml"), "--engine", "reference", "--seeds", "2", "--hist");
        Assert.True(exit == 0, stderr);
        var sample = DocBlocks.After(Path.Combine("docs", "outputs.md"), "`--hist` adds the distributions");
        Assert.EndsWith(sample + "\n", stdout);
    }

    [Fact]
    public void TheSweepSampleIsWhatTheSweepPrints()
    {
        var (exit, stdout, stderr) = Cli.Shootdown("run", Sim.ScenarioPath("sweep-cpus.yaml"), "--engine", "reference", "--seeds", "3");
        Assert.True(exit == 0, stderr);
        Assert.Equal(DocBlocks.After(Path.Combine("docs", "scenarios.md"), "run scenarios/sweep-cpus.yaml --engine reference --seeds 3"), stdout);
    }

    /// <summary>
    /// deploy/README.md's runs on a cluster print what the reference engine prints: every line of
    /// each sample but the commands typed (<c># </c>), a notice on standard error
    /// (<c>shootdown: </c>, whose window depends on when the silo was killed) and the elisions (<c>...</c>).
    /// </summary>
    [Fact]
    public void TheClusterSamplesInDeployPrintTheReferenceEnginesLines()
    {
        var (exit, stdout, stderr) = Cli.Shootdown("run", Sim.ScenarioPath("khugepaged-4096.yaml"), "--engine", "reference");
        Assert.True(exit == 0, stderr);
        var printed = stdout.Split('\n').ToHashSet();
        var text = File.ReadAllText(Path.Combine(NamespaceCluster.RepositoryRoot, "deploy", "README.md"));
        var blocks = System.Text.RegularExpressions.Regex.Matches(text, "```console\n(.*?)```", System.Text.RegularExpressions.RegexOptions.Singleline)
            .Select(m => m.Groups[1].Value).Where(b => b.Contains("run scenarios/khugepaged-4096.yaml", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, blocks.Count);
        foreach (var block in blocks)
        {
            var shown = block.Split('\n').Where(l => l.Length > 0 && !l.StartsWith("# ", StringComparison.Ordinal) && l != "..." && !l.StartsWith("shootdown: ", StringComparison.Ordinal))
                .Select(l => l.Replace("engine grains on a running cluster", "engine reference", StringComparison.Ordinal)).ToList();
            Assert.Contains(shown, l => l.StartsWith("digest baseline ", StringComparison.Ordinal));
            Assert.All(shown, l => Assert.Contains(l, printed));
        }
    }
}
