using System.Diagnostics;
using Shootdown.Client.Running;

namespace Shootdown.Tests;

/// <summary>
/// A silo started from a large directory (a home directory, a checkout) does not watch it: a host
/// that reloads configuration on change takes an inotify instance, one of the user's 128, and a
/// watch on every directory beneath its working directory, walked at startup. Read from the
/// silo process's open files, as the kernel lists them.
/// </summary>
public sealed class SiloFileWatchTests
{
    [Fact]
    public async Task StandaloneSilosHoldNoInotifyInstance()
    {
        var cwd = Sim.TempDir();
        for (var i = 0; i < 50; i++) Directory.CreateDirectory(Path.Combine(cwd, $"d{i}", "sub"));
        var ports = EmbeddedCluster.FreePorts(5);
        var cluster = $"watch-{Guid.NewGuid():N}"[..20];
        // The primary silo is a plain host; the second serves the dashboard, a web host.
        using var primary = Silo(cwd, "--cluster-id", cluster, "--silo-port", $"{ports[0]}", "--primary-silo-port", $"{ports[0]}", "--gateway-port", $"{ports[1]}");
        try
        {
            Assert.Contains("joined cluster", await primary.StandardError.ReadLineAsync(TestContext.Current.CancellationToken));
            using var web = Silo(cwd, "--cluster-id", cluster, "--silo-port", $"{ports[2]}", "--primary-silo-port", $"{ports[0]}",
                "--gateway-port", $"{ports[3]}", "--dashboard-port", $"{ports[4]}");
            try
            {
                Assert.Contains("joined cluster", await web.StandardError.ReadLineAsync(TestContext.Current.CancellationToken));
                Assert.Equal((0, 0), (InotifyInstances(primary), InotifyInstances(web)));
            }
            finally
            {
                web.Kill(entireProcessTree: true);
                await web.WaitForExitAsync(TestContext.Current.CancellationToken);
            }
        }
        finally
        {
            primary.Kill(entireProcessTree: true);
            await primary.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
    }

    private static Process Silo(string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "shootdown-silo.dll"), .. args])
        {
            WorkingDirectory = workingDirectory, RedirectStandardError = true,
        };
        return Process.Start(psi)!;
    }

    /// <summary>The process's open inotify instances: its descriptors that link to the kernel's anonymous inotify inode.</summary>
    private static int InotifyInstances(Process process) =>
        new DirectoryInfo($"/proc/{process.Id}/fd").EnumerateFileSystemInfos().Count(fd => fd.LinkTarget == "anon_inode:inotify");
}
