using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Shootdown.Hosting;

/// <summary>
/// Holds back a silo's log lines until it has started. A start that fails (Redis unreachable, a
/// port taken, the join timed out) is told in one line by <see cref="SiloStart"/>; without the gate,
/// Orleans would first log the same failure once per lifecycle stage, each with its stack trace.
/// Registered after Orleans, so it opens once the silo has joined.
/// </summary>
internal sealed class StartupLogGate : IHostedService
{
    private volatile bool _open;

    /// <summary>
    /// Adds the gate to a host: a filter on every log line (it replaces the minimum level, which
    /// a filter rule overrides), and the service that opens it.
    /// </summary>
    public static void AddTo(IHostApplicationBuilder builder, LogLevel minimum)
    {
        var gate = new StartupLogGate();
        builder.Logging.AddFilter((_, _, level) => level >= (gate._open ? minimum : LogLevel.Critical));
        builder.Services.AddHostedService(_ => gate);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _open = true;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
