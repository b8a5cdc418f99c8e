using Orleans.Runtime;

namespace Shootdown.Client.Running;

/// <summary>
/// Watches a cluster's membership while a run is in flight: every second it asks which silos are
/// active, and when one that was active at the start is no longer (membership declared it dead),
/// it cancels <see cref="Lost"/> and names the silo. Calls on the run wait on that token, so a run
/// whose coordinator died with its silo (whose answer would never come) fails as soon as the
/// cluster knows, not after the ten-minute response timeout. When no silo answers at all for
/// <see cref="UnreachableAfter"/> (the only silo died: there is no one left to declare it dead),
/// it cancels <see cref="Lost"/> too, with <see cref="Unreachable"/> set.
/// </summary>
internal sealed class ClusterWatch : IAsyncDisposable
{
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

    private readonly IManagementGrain _management;
    private readonly HashSet<SiloAddress> _start;
    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private ClusterWatch(IManagementGrain management, HashSet<SiloAddress> start)
    {
        _management = management;
        _start = start;
        _loop = Task.Run(WatchAsync);
    }

    /// <summary>Cancelled once a silo active at the start has left the cluster.</summary>
    public CancellationToken Lost => _lost.Token;

    /// <summary>The silo that was lost, once <see cref="Lost"/> is cancelled.</summary>
    public SiloAddress? LostSilo { get; private set; }

    /// <summary>How long no silo may answer before the cluster counts as gone: long enough to ride out a pause or a failover.</summary>
    public static readonly TimeSpan UnreachableAfter = TimeSpan.FromSeconds(30);

    /// <summary>Set when <see cref="Lost"/> was cancelled because no silo answered for <see cref="UnreachableAfter"/>.</summary>
    public bool Unreachable { get; private set; }

    /// <summary>The silos active at the start that are still active.</summary>
    public int Survivors { get; private set; }

    /// <summary>How long to keep asking which silos are active while no answer comes (the silo asked died, or the store is down).</summary>
    private static readonly TimeSpan AskPatience = TimeSpan.FromSeconds(30);

    public static async Task<ClusterWatch> StartAsync(IGrainFactory grains, CancellationToken cancellation)
    {
        var hosts = await ActiveSilosAsync(grains, cancellation);
        return new ClusterWatch(grains.GetGrain<IManagementGrain>(0), [.. hosts.Keys]) { Survivors = hosts.Count };
    }

    /// <summary>
    /// The silos membership lists as active, asked again for up to <see cref="AskPatience"/>
    /// while the question cannot be answered: the silo asked may have died a moment ago (it is
    /// still listed, and the question went to it), or the membership store may be failing over
    /// or paused (the management grain reads the table from the store, and a store client's
    /// exception may not even cross the wire: it arrives as a codec error).
    /// </summary>
    public static async Task<Dictionary<SiloAddress, SiloStatus>> ActiveSilosAsync(IGrainFactory grains, CancellationToken cancellation)
    {
        var management = grains.GetGrain<IManagementGrain>(0);
        var deadline = DateTime.UtcNow + AskPatience;
        while (true)
        {
            try
            {
                return await management.GetHosts(onlyActive: true).WaitAsync(AskTimeout, cancellation);
            }
            catch (Exception) when (!cancellation.IsCancellationRequested && DateTime.UtcNow < deadline)
            {
                await Task.Delay(Poll, cancellation);
            }
        }
    }

    /// <summary>
    /// After a call on the run failed: the silo lost, once membership says so (within
    /// <paramref name="patience"/>), or null if every silo is still there and the failure was the run's own.
    /// </summary>
    public async Task<SiloAddress?> LossBehindAsync(TimeSpan patience)
    {
        try
        {
            await Task.Delay(patience, _lost.Token);
        }
        catch (OperationCanceledException)
        {
        }
        return LostSilo;
    }

    private async Task WatchAsync()
    {
        var lastAnswer = System.Diagnostics.Stopwatch.StartNew();
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Poll, _stop.Token);
                if (lastAnswer.Elapsed > UnreachableAfter)
                {
                    Unreachable = true;
                    _lost.Cancel();
                    return;
                }
                var active = await _management.GetHosts(onlyActive: true).WaitAsync(AskTimeout, _stop.Token);
                lastAnswer.Restart();
                var gone = _start.FirstOrDefault(s => !active.ContainsKey(s));
                Survivors = _start.Count(active.ContainsKey);
                if (gone is null) continue;
                LostSilo = gone;
                _lost.Cancel();
                return;
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                // The silo that answered for membership may itself be the one dying, whatever it
                // threw: ask again. The watch only ever reports a loss that membership declared.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _loop;
        _stop.Dispose();
        _lost.Dispose();
    }
}
