using System.Diagnostics;
using Shootdown.Client.Running;

namespace Shootdown.Tests;

/// <summary>
/// <c>shootdown dashboard</c> on a host whose NuGet packages folder lacks the Aspire dashboard's
/// package (NUGET_PACKAGES elsewhere, as on a fresh machine or with another cache): NuGet fetches
/// it from the host's sources, here a local feed holding the package (RestoreSources), and the
/// dashboard starts from there; with no source that has it, one line says why.
/// </summary>
public sealed class AspireDashboardPackageTests
{
    private static string PackageFile => $"{AspireDashboardPackage.Id.ToLowerInvariant()}.{AspireDashboardPackage.Version}.nupkg";

    [Fact]
    public async Task AHostWithoutThePackageFetchesItAndStartsTheDashboard()
    {
        var dir = Sim.TempDir();
        var (packages, feed) = (Directory.CreateDirectory(Path.Combine(dir, "packages")).FullName, Directory.CreateDirectory(Path.Combine(dir, "feed")).FullName);
        var restored = Path.Combine(await AspireDashboardPackage.GlobalPackagesFolderAsync(CancellationToken.None),
            AspireDashboardPackage.Id.ToLowerInvariant(), AspireDashboardPackage.Version, PackageFile);
        File.Copy(restored, Path.Combine(feed, PackageFile));
        var ports = EmbeddedCluster.FreePorts(3);
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "shootdown.dll"), "dashboard",
            "--port", $"{ports[0]}", "--otlp-grpc-port", $"{ports[1]}", "--otlp-http-port", $"{ports[2]}"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir,
        };
        psi.Environment["NUGET_PACKAGES"] = packages;
        psi.Environment["RestoreSources"] = feed;
        using var process = Process.Start(psi)!;
        try
        {
            var stderr = process.StandardError.ReadLineAsync(cancellationToken: TestContext.Current.CancellationToken);
            var first = await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromMinutes(3), TestContext.Current.CancellationToken);
            Assert.Equal($"Aspire dashboard: http://127.0.0.1:{ports[0]}/", first);
            Assert.Equal($"shootdown: fetching {AspireDashboardPackage.Id} {AspireDashboardPackage.Version} into {packages} (about 40 MB to download, once)",
                await stderr);
            Assert.True(File.Exists(AspireDashboardPackage.ExecutableIn(packages)));
            using var http = new HttpClient();
            using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{ports[0]}/api/telemetry/resources"), cancellationToken: TestContext.Current.CancellationToken);
            Assert.True(response.IsSuccessStatusCode, response.StatusCode.ToString());
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(cancellationToken: TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public void WithNoSourceThatHasThePackageOneLineSaysWhy()
    {
        var dir = Sim.TempDir();
        var (exit, _, stderr) = Cli.DotnetWithEnvironment(new()
        {
            ["NUGET_PACKAGES"] = Directory.CreateDirectory(Path.Combine(dir, "packages")).FullName,
            ["RestoreSources"] = Directory.CreateDirectory(Path.Combine(dir, "empty-feed")).FullName,
        }, "dashboard");
        Assert.Equal(1, exit);
        var lines = stderr.TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith($"shootdown: fetching {AspireDashboardPackage.Id}", lines[0]);
        Assert.StartsWith($"shootdown: cannot start the Aspire dashboard: NuGet could not fetch {AspireDashboardPackage.Id} {AspireDashboardPackage.Version}: ", lines[1]);
        Assert.Contains(": error NU1101: Unable to find package", lines[1]);
        Assert.DoesNotContain("fetch.csproj", lines[1]);
    }
}
