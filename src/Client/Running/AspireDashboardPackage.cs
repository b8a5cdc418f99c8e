using System.Diagnostics;
using System.Reflection;

namespace Shootdown.Client.Running;

/// <summary>
/// Where the Aspire dashboard's package lies (Aspire.Dashboard.Sdk.linux-x64, at the version this
/// build was restored with): in NuGet's global packages folder, as this host's NuGet reports it
/// (<c>dotnet nuget locals global-packages --list</c>, which follows NUGET_PACKAGES and
/// nuget.config), not at a path fixed when the build ran. Where it is not there yet, NuGet fetches
/// it (a restore of a <c>PackageDownload</c>), as it would for any package.
/// <para>
/// Why not ship the dashboard's files with the tool: they are 89 MB, three times the tool, for a
/// command most runs never use.
/// </para>
/// </summary>
public static class AspireDashboardPackage
{
    public const string Id = "Aspire.Dashboard.Sdk.linux-x64";

    /// <summary>The package version this build was restored with.</summary>
    public static string Version =>
        typeof(AspireDashboardPackage).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "AspireDashboardVersion").Value!;

    /// <summary>The dashboard executable inside the package, in the global packages folder <paramref name="packages"/>.</summary>
    public static string ExecutableIn(string packages) =>
        Path.Combine(packages, Id.ToLowerInvariant(), Version, "tools", "Aspire.Dashboard");

    /// <summary>
    /// The dashboard executable, fetched into the global packages folder first if it is not there
    /// (<paramref name="fetching"/> is told before a fetch starts). Fails with one line saying why.
    /// </summary>
    public static async Task<string> LocateAsync(Action<string> fetching, CancellationToken cancellation)
    {
        var packages = await GlobalPackagesFolderAsync(cancellation);
        var executable = ExecutableIn(packages);
        if (File.Exists(executable)) return executable;
        fetching($"fetching {Id} {Version} into {packages} (about 40 MB to download, once)");
        await FetchAsync(cancellation);
        return File.Exists(executable) ? executable
            : throw new DashboardUnavailableException($"{executable} is still missing after NuGet restored {Id} {Version}");
    }

    /// <summary>NuGet's global packages folder on this host.</summary>
    internal static async Task<string> GlobalPackagesFolderAsync(CancellationToken cancellation)
    {
        const string Prefix = "global-packages: ";
        var (exit, output) = await DotnetAsync(Directory.GetCurrentDirectory(), ["nuget", "locals", "global-packages", "--list"], cancellation);
        var line = output.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(Prefix, StringComparison.Ordinal));
        return exit == 0 && line is not null ? line[Prefix.Length..]
            : throw new DashboardUnavailableException($"'dotnet nuget locals global-packages --list' did not name NuGet's packages folder: {ErrorLine(output)}");
    }

    /// <summary>A restore of a project that only downloads the package: NuGet puts it in the global packages folder from the host's sources.</summary>
    private static async Task FetchAsync(CancellationToken cancellation)
    {
        var dir = Directory.CreateTempSubdirectory("shootdown-aspire-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(dir, "fetch.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
                  <ItemGroup><PackageDownload Include="{Id}" Version="[{Version}]" /></ItemGroup>
                </Project>
                """, cancellation);
            var (exit, output) = await DotnetAsync(dir, ["restore", "fetch.csproj", "-v", "quiet", "-nologo"], cancellation);
            if (exit != 0) throw new DashboardUnavailableException($"NuGet could not fetch {Id} {Version}: {ErrorLine(output)}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<(int Exit, string Output)> DotnetAsync(string workingDirectory, string[] args, CancellationToken cancellation)
    {
        var info = new ProcessStartInfo("dotnet", args)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        try
        {
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync(cancellation);
            var stderr = process.StandardError.ReadToEndAsync(cancellation);
            await process.WaitForExitAsync(cancellation);
            return (process.ExitCode, await stdout + await stderr);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new DashboardUnavailableException($"the .NET SDK's 'dotnet' is not on PATH ({e.Message}); NuGet is needed to find the dashboard's package");
        }
    }

    /// <summary>The line that says what went wrong: the first error (from its code on, not the temporary project's path), else the first line.</summary>
    private static string ErrorLine(string output)
    {
        var lines = output.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        var error = lines.FirstOrDefault(l => l.Contains("error", StringComparison.OrdinalIgnoreCase));
        var at = error?.IndexOf(": error ", StringComparison.Ordinal) ?? -1;
        return at >= 0 ? error![(at + 2)..] : error ?? lines.FirstOrDefault() ?? "no output";
    }
}

/// <summary>Why the Aspire dashboard cannot start here, in one line.</summary>
public sealed class DashboardUnavailableException(string message) : Exception(message);
