namespace Shootdown.Tests;

/// <summary>
/// <c>shootdown</c> as README installs it: the package the repository packs, installed as a .NET
/// tool into a folder of its own, run from a directory outside the repository.
/// </summary>
[Collection(RepositoryBuildCollection.Name)]
public sealed class ToolPackageTests
{
    [Fact]
    public void ThePackedToolRunsAndCarriesTheShippedScenarios()
    {
        var dir = Sim.TempDir();
        var (nupkg, tools, elsewhere) = (Path.Combine(dir, "nupkg"), Path.Combine(dir, "tools"), Directory.CreateDirectory(Path.Combine(dir, "elsewhere")).FullName);
        // Packing builds the RID-specific packages (ReadyToRun for linux-x64) the solution's build does not.
        var pack = Cli.Dotnet(NamespaceCluster.RepositoryRoot, ["pack", "src/Cli", "-c", "Release", "-o", nupkg]);
        Assert.True(pack.Exit == 0, pack.Out + pack.Err);
        Assert.Equal(["Shootdown.0.26.0.nupkg", "Shootdown.any.0.26.0.nupkg", "Shootdown.linux-x64.0.26.0.nupkg"],
            Directory.GetFiles(nupkg).Select(Path.GetFileName).Order(StringComparer.Ordinal));
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

        // The packages carry none of what the command never loads: Roslyn and Humanizer (Orleans'
        // packages list them for their source generator), the Kubernetes client (only the
        // standalone silo runs in a pod), the silo process itself, translated resources. This
        // host's package is compiled ahead of time (the installed tool runs it), the portable one not.
        foreach (var (rid, readyToRun) in new[] { ("linux-x64", true), ("any", false) })
        {
            using var package = System.IO.Compression.ZipFile.OpenRead(Path.Combine(nupkg, $"Shootdown.{rid}.0.26.0.nupkg"));
            var files = package.Entries.Where(e => e.FullName.StartsWith("tools/", StringComparison.Ordinal)).ToList();
            Assert.DoesNotContain(files, f => f.Name is var name
                && (name.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal) || name.StartsWith("Humanizer", StringComparison.Ordinal)
                    || name.StartsWith("KubernetesClient", StringComparison.Ordinal) || name.StartsWith("Orleans.Hosting.Kubernetes", StringComparison.Ordinal)
                    || name.StartsWith("shootdown-silo", StringComparison.Ordinal) || name.EndsWith(".resources.dll", StringComparison.Ordinal)));
            using var dll = new MemoryStream();
            using (var entry = files.Single(f => f.Name == "Shootdown.Model.dll").Open()) entry.CopyTo(dll);
            dll.Position = 0;
            using var pe = new System.Reflection.PortableExecutable.PEReader(dll);
            Assert.Equal(readyToRun, pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size > 0);
            // Both run without dynamic PGO (src/Directory.Build.props; docs/performance.md, "Dynamic PGO").
            using var config = System.Text.Json.JsonDocument.Parse(files.Single(f => f.Name == "shootdown.runtimeconfig.json").Open());
            Assert.False(config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties").GetProperty("System.Runtime.TieredPGO").GetBoolean());
        }
        Assert.True(File.Exists(Path.Combine(tools, ".store", "shootdown", "0.26.0", "shootdown.linux-x64", "0.26.0", "shootdown.linux-x64.0.26.0.nupkg")),
            "the installed tool is not the linux-x64 package");
    }
}

/// <summary>Tests that build from the repository's sources (pack, file-based scripts), one at a time: concurrent restores of the same projects collide.</summary>
[CollectionDefinition(Name)]
public sealed class RepositoryBuildCollection
{
    public const string Name = "repository builds";
}
