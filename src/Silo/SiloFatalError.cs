using Microsoft.Extensions.Hosting;

namespace Shootdown.Silo;

/// <summary>
/// What a silo does when Orleans finds it cannot go on (the cluster declared it dead, say):
/// Orleans' own handler logs a FATAL line and a stack and fails fast (exit 134); this one says why
/// in one line and stops the host, whose owner (<c>shootdown-silo</c>) prints the line and exits 1.
/// A silo that does not stop within <see cref="StopPatience"/> is ended with the same line.
/// </summary>
public sealed class SiloFatalError(IHostApplicationLifetime lifetime) : IFatalErrorHandler
{
    private readonly TaskCompletionSource<string> _reason = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes with the one line once a fatal error has happened.</summary>
    public Task<string> Reason => _reason.Task;

    public static readonly TimeSpan StopPatience = TimeSpan.FromSeconds(15);

    public bool IsUnexpected(Exception exception) => true;

    public void OnFatalException(object? sender = null, string? context = null, Exception? exception = null)
    {
        if (!_reason.TrySetResult(Describe(context, exception))) return;
        lifetime.StopApplication();
        _ = Task.Run(async () =>
        {
            await Task.Delay(StopPatience);
            Console.Error.WriteLine($"shootdown-silo: {_reason.Task.Result}");
            Environment.Exit(1);
        });
    }

    /// <summary>The reason in words a person can act on, on one line.</summary>
    public static string Describe(string? context, Exception? exception)
    {
        if (context?.Contains("Dead", StringComparison.Ordinal) == true || context?.Contains("dead", StringComparison.Ordinal) == true)
            return "the cluster declared this silo dead: its other silos could not reach it (is --tls-cert the cluster's certificate, " +
                   "and can the other silos reach --advertise and --silo-port?)";
        var what = string.Join(": ", new[] { context, exception?.Message }.Where(s => !string.IsNullOrWhiteSpace(s)));
        return $"stopped by a fatal error: {what.ReplaceLineEndings(" ")}";
    }
}
