namespace Shootdown.Tests;

/// <summary>
/// <c>shootdown</c> as README installs it: the package the repository packs, installed as a .NET
/// tool into a folder of its own, run from a directory outside the repository.
/// </summary>
public sealed class ToolPackageTests
{
    [Fact]
    public void ThePackedToolRunsAndCarriesTheShippedScenarios()
    {
        var dir = Sim.TempDir();
        var (nupkg, tools, elsewhere) = (Path.Combine(dir, "nupkg"), Path.Combine(dir, "tools"), Directory.CreateDirectory(Path.Combine(dir, "elsewhere")).FullName);
        // The solution is built (the test run built it): pack what is there.
        var pack = Cli.Dotnet(NamespaceCluster.RepositoryRoot, ["pack", "src/Cli", "-c", "Release", "--no-build", "-o", nupkg]);
        Assert.True(pack.Exit == 0, pack.Out + pack.Err);
        var install = Cli.Dotnet(dir, ["tool", "install", "Shootdown", "--tool-path", tools, "--add-source", nupkg]);
        Assert.True(install.Exit == 0, install.Out + install.Err);
        var shootdown = Path.Combine(tools, "shootdown");

        var run = Cli.Run(shootdown, ["run", Sim.ScenarioPath("small-64.yaml"), "--engine", "reference"], elsewhere);
        Assert.True(run.Exit == 0, run.Err);
        Assert.Contains("digest baseline 4a491ef37d932c6b3695f626d2ec802633704707867accdc9b89747cfbdea3bc\n", run.Out);
        // calibrate finds the calibration scenarios the package carries, with no checkout in sight.
        var calibrate = Cli.Run(shootdown, ["calibrate", "--markdown"], elsewhere);
        Assert.True(calibrate.Exit == 0, calibrate.Err);
        Assert.Contains(calibrate.Out.Trim(), File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "docs", "calibration.md")));

        // The package carries none of what the command never loads: Roslyn and Humanizer (Orleans'
        // packages list them for their source generator), the Kubernetes client (only the
        // standalone silo runs in a pod), the silo process itself, translated resources.
        using var package = System.IO.Compression.ZipFile.OpenRead(Directory.GetFiles(nupkg, "Shootdown.*.nupkg").Single());
        var files = package.Entries.Select(e => e.FullName).Where(n => n.StartsWith("tools/", StringComparison.Ordinal)).ToList();
        Assert.Contains(files, f => f.EndsWith("/shootdown.dll", StringComparison.Ordinal));
        Assert.DoesNotContain(files, f => Path.GetFileName(f) is var name
            && (name.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal) || name.StartsWith("Humanizer", StringComparison.Ordinal)
                || name.StartsWith("KubernetesClient", StringComparison.Ordinal) || name.StartsWith("Orleans.Hosting.Kubernetes", StringComparison.Ordinal)
                || name.StartsWith("shootdown-silo", StringComparison.Ordinal) || name.EndsWith(".resources.dll", StringComparison.Ordinal)));
    }
}
