using System.Runtime.InteropServices;

namespace Shootdown.Hosting;

/// <summary>
/// What a silo does when Orleans finds it cannot go on (the cluster declared it dead, say).
/// Orleans' own handler logs a FATAL line with a stack and fails fast (exit 134); this one says
/// why in one line and exits 1 at once, as fast: a silo declared dead has nothing left to save,
/// and a graceful stop would only wait on a cluster that no longer counts it in.
/// </summary>
public sealed class SiloFatalError : IFatalErrorHandler
{
    public bool IsUnexpected(Exception exception) => true;

    public void OnFatalException(object? sender = null, string? context = null, Exception? exception = null)
    {
        // The process's own name: shootdown-silo, or shootdown for the CLI's embedded silos.
        Console.Error.WriteLine($"{AppDomain.CurrentDomain.FriendlyName}: {Describe(context, exception)}");
        Console.Error.Flush();
        // Not Environment.Exit: its exit handlers wait for the host to stop, which waits on the cluster.
        if (OperatingSystem.IsLinux()) Exit(1);
        Environment.Exit(1);
    }

    // DllImport rather than LibraryImport, which would need unsafe code for one int argument.
    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void Exit(int status);

    /// <summary>The reason in words a person can act on, on one line.</summary>
    public static string Describe(string? context, Exception? exception)
    {
        if (context?.Contains("dead", StringComparison.OrdinalIgnoreCase) == true)
            return "the cluster declared this silo dead: its other silos could not reach it (is --tls-cert the cluster's certificate, " +
                   "and can the other silos reach --advertise and --silo-port?)";
        var what = string.Join(": ", new[] { context, exception?.Message }.Where(s => !string.IsNullOrWhiteSpace(s)));
        return $"stopped by a fatal error: {what.ReplaceLineEndings(" ")}";
    }
}
