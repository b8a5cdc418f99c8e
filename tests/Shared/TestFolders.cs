using System.Collections.Concurrent;

[assembly: AssemblyFixture(typeof(Shootdown.Tests.TestFolders))]

namespace Shootdown.Tests;

/// <summary>
/// The temporary folders tests write their files in, removed once the assembly's last test is done:
/// a full run makes about forty, some holding a 160 MB package feed, and a developer's /tmp should
/// not fill up run after run. Removed at the end rather than per test, so a test that hands its folder
/// to a process it starts need not wait for that process to let go.
/// </summary>
public sealed class TestFolders : IDisposable
{
    private static readonly ConcurrentQueue<string> Made = new();

    /// <summary>A new, empty folder under the system's temporary folder.</summary>
    public static string Create()
    {
        var dir = Directory.CreateTempSubdirectory("shootdown-test-").FullName;
        Made.Enqueue(dir);
        return dir;
    }

    public void Dispose()
    {
        while (Made.TryDequeue(out var dir))
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }
}
