using System.Globalization;
using Shootdown.Engine;
using Shootdown.Model.Kernel;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>The sample C# scripts run as users run them: <c>dotnet run -c Release scripts/NAME.cs</c> from the repository.</summary>
[Collection(RepositoryBuildCollection.Name)]
public sealed class ScriptTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Orleans.sln"))) return dir.FullName;
        throw new InvalidOperationException("not inside the repository");
    }

    [Fact]
    public void TheSweepScriptAgreesWithTheYamlSweep()
    {
        var root = RepositoryRoot();
        var (exit, stdout, stderr) = Cli.Dotnet(root, ["run", "-c", "Release", "scripts/sweep-cpus.cs", "--", "--reference"]);
        Assert.True(exit == 0, stderr + stdout);
        // Redirected, the table keeps every column whole: no ellipsis, no escape sequence.
        Assert.Contains("│ RT irqs b/p │", stdout);
        Assert.DoesNotContain("…", stdout);
        Assert.DoesNotContain('\u001b', stdout);

        // The script builds 'pack:N core:64 pu:2' machines in code; the YAML sweep scales the same
        // package. Same workload, same seed: the same collateral IPIs at every size.
        var yaml = ScenarioLoader.Load(Path.Combine(root, "scenarios", "sweep-cpus.yaml"));
        foreach (var point in yaml.Points)
        {
            var baseline = new ReferenceEngine(point.Scenario.SetupFor(KernelPolicy.Baseline)).Run(cancellation: TestContext.Current.CancellationToken);
            var cpus = point.Scenario.Machine.CpuCount.ToString("N0", CultureInfo.InvariantCulture);
            var row = stdout.Split('\n').Single(l => l.StartsWith($"│ {cpus} ", StringComparison.Ordinal));
            Assert.Contains($" {baseline.CollateralIpis.ToString("N0", CultureInfo.InvariantCulture)} ", row);
        }
    }

    /// <summary>The mixed-workload script prints what docs/cli.md shows, byte for byte.</summary>
    [Fact]
    public void TheMixedWorkloadScriptPrintsTheSampleInTheDocs()
    {
        var (exit, stdout, stderr) = Cli.Dotnet(RepositoryRoot(), ["run", "-c", "Release", "scripts/mixed-workload.cs"]);
        Assert.True(exit == 0, stderr + stdout);
        Assert.Equal(DocBlocks.After(Path.Combine("docs", "cli.md"), "(a test runs it and compares):"), stdout);
    }
}
