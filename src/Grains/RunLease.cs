using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace Shootdown.Grains;

/// <summary>
/// Keeps a run's grains in memory while the run is alive, and lets them go when it is not. The
/// run's grains (coordinator, partitions, CPUs, mms) are <c>[KeepAlive]</c>: Orleans' idle
/// collector would otherwise drop a CPU grain that no event reached for longer than the
/// collection age (15 minutes by default), and the CPU's state with it, in the middle of a long
/// run. They end when the run does (collect, end, abandon). A run whose client vanished without
/// abandoning it is ended by this lease on its coordinator, which a live client calls without
/// pause: after <see cref="RunLeaseOptions.Length"/> with no call, the coordinator abandons the
/// run, its partitions end their entities, and all of them go. Wall time only decides when an
/// abandoned run's memory is freed; no result depends on it.
/// </summary>
public abstract class RunLease(IOptions<RunLeaseOptions> options) : Grain, IIncomingGrainCallFilter
{
    private TimeSpan Length { get; } = options.Value.Length;

    /// <summary>How often the lease is checked: a quarter of it, at most a minute.</summary>
    private TimeSpan CheckEvery => TimeSpan.FromTicks(Math.Min(TimeSpan.FromMinutes(1).Ticks, Length.Ticks / 4));

    // Wall time since the run's last call: it only decides when an abandoned run's grains are
    // freed, never what a live run computes, so no result depends on it.
    private readonly Stopwatch _silence = new();
    private IGrainTimer? _timer;
    private bool _ended;

    /// <summary>
    /// Every call of the run says it is alive. The silence counts from a call's end, since a call
    /// may last long (a timer's check cannot run during one).
    /// </summary>
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        finally
        {
            // The lease's own timer ticks pass through this filter too; only the run's calls count.
            if (!_ended && context.InterfaceMethod?.DeclaringType is { } called && called.IsAssignableFrom(GetType()))
            {
                _silence.Restart();
                _timer ??= this.RegisterGrainTimer(Check, CheckEvery, CheckEvery);
            }
        }
    }

    /// <summary>The run is over here: no more checks.</summary>
    protected void Ended()
    {
        _ended = true;
        _timer?.Dispose();
        _timer = null;
    }

    /// <summary>Ends what this grain holds of a run that has gone silent.</summary>
    protected abstract Task Expire();

    private async Task Check(CancellationToken cancellation)
    {
        if (_silence.Elapsed < Length) return;
        Ended();
        await Expire();
    }
}

/// <summary>How long a run's coordinator waits, with no call from its client, before it abandons the run.</summary>
public sealed class RunLeaseOptions
{
    /// <summary>
    /// Thirty minutes: three times the longest a call may take (<c>ShootdownSilo.ResponseTimeout</c>),
    /// and twice Orleans' idle collection age, which the run's grains are exempt from.
    /// </summary>
    public TimeSpan Length { get; set; } = TimeSpan.FromMinutes(30);
}
