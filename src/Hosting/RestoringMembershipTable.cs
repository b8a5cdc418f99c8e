using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Clustering.Redis;
using Orleans.Configuration;
using StackExchange.Redis;

namespace Shootdown.Hosting;

/// <summary>
/// The Redis membership table, restored by the silos when Redis loses it. Redis restarted without
/// persistence (or flushed, or failed over to an empty replica) comes back without the table:
/// Orleans' Redis provider then fails every read with "the Redis membership table version is
/// missing" and never writes it again, so the silos keep running on their last view while no new
/// client finds a gateway and no silo can join. Each silo keeps the newest row it read or wrote for
/// every silo, read again whenever gossip brings its membership view a newer version (a silo that
/// joined a moment ago is otherwise missing from this silo's last periodic read, and would be left
/// out of a restored table), and takes a silo's status from that view when it is further on. When a read
/// finds the table gone, or a row of a silo still alive missing or earlier in its lifecycle than
/// this silo knows it (a silo never goes back from Active to Joining, so only a lost table restored
/// from an older view shows that), it writes back the version above the highest it saw (Orleans
/// accepts a view only if its version is newer) and those rows, then reads again. The first silo to
/// notice restores every row it knows; each silo mends its own row if another's knowledge of it was
/// older. A row restored a step behind would make the cluster count that silo out until it is
/// mended (calls in flight to it then wait), which is why the view's statuses are taken when they
/// are further on. Rows are written through the provider itself, so they are in its own format, and
/// conditionally (a row another silo restored or changed meanwhile is left alone). A silo declared
/// dead is not restored: only a loss of the table is undone, never a decision.
/// </summary>
public sealed class RestoringMembershipTable(IMembershipTable table, IOptions<RedisClusteringOptions> redis, IOptions<ClusterOptions> cluster,
    IServiceProvider services, ILogger<RestoringMembershipTable> log) : IMembershipTable, IAsyncDisposable
{
    private readonly RedisKey _key = redis.Value.CreateRedisKey(cluster.Value);
    private readonly SemaphoreSlim _restoring = new(1, 1);
    private readonly Lock _knowing = new();
    /// <summary>The newest row this silo read or wrote for each silo, and the highest table version it read.</summary>
    private readonly Dictionary<SiloAddress, MembershipEntry> _known = [];
    private long? _lastVersion;
    private IConnectionMultiplexer? _connection;
    private readonly CancellationTokenSource _stop = new();
    private Task? _following;
    private int _followStarted;

    /// <summary>Replaces the IMembershipTable the Redis provider registered with itself, restored.</summary>
    public static void Decorate(IServiceCollection services)
    {
        var provider = services.Last(d => d.ServiceType == typeof(IMembershipTable));
        services.Remove(provider);
        services.AddSingleton<IMembershipTable>(sp => ActivatorUtilities.CreateInstance<RestoringMembershipTable>(sp, Resolve(sp, provider)));
    }

    private static IMembershipTable Resolve(IServiceProvider services, ServiceDescriptor provider) =>
        (IMembershipTable)(provider.ImplementationInstance ?? provider.ImplementationFactory?.Invoke(services)
                           ?? ActivatorUtilities.CreateInstance(services, provider.ImplementationType!));

    public async Task<MembershipTableData> ReadAllAsync(CancellationToken cancellationToken = default)
    {
        MembershipTableData view;
        try
        {
            view = await table.ReadAllAsync(cancellationToken);
        }
        catch (RedisClusteringException lost) when (KnowsAny())
        {
            // "The Redis membership table version is missing": Redis came back empty.
            await RestoreAsync(lost.Message, cancellationToken);
            view = await table.ReadAllAsync(cancellationToken);
        }
        if (Lost(view).Count is var lostRows and > 0)
        {
            await RestoreAsync($"{lostRows} rows missing or gone back", cancellationToken);
            view = await table.ReadAllAsync(cancellationToken);
        }
        Learn(view);
        if (View is not null && Interlocked.Exchange(ref _followStarted, 1) == 0) _following = Task.Run(FollowAsync);
        return view;
    }

    /// <summary>Reads the table each time the membership view moves past the last version read, so what this silo knows is as new as its view.</summary>
    private async Task FollowAsync()
    {
        var membership = services.GetRequiredService<IClusterMembershipService>();
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(_stop.Token))
            {
                lock (_knowing)
                    if (snapshot.Version.Value <= (_lastVersion ?? 0)) continue;
                try
                {
                    Learn(await table.ReadAllAsync(_stop.Token));
                }
                catch (Exception e) when (e is RedisException or RedisClusteringException or TimeoutException)
                {
                    // Redis is away or the table lost: the periodic read finds out and restores it.
                }
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // The silo is stopping: the enumeration ends cancelled, or with the membership service already disposed.
        }
    }

    private bool KnowsAny()
    {
        lock (_knowing) return _known.Count > 0;
    }

    private void Learn(MembershipTableData view)
    {
        lock (_knowing)
        {
            foreach (var (entry, _) in view.Members) _known[entry.SiloAddress] = entry;
            _lastVersion = Math.Max(_lastVersion ?? 0, view.Version.Version);
        }
    }

    private void Learn(MembershipEntry written)
    {
        lock (_knowing) _known[written.SiloAddress] = written;
    }

    /// <summary>The rows this silo knows of silos not declared dead that <paramref name="view"/> lacks or lists earlier in their lifecycle.</summary>
    private List<MembershipEntry> Lost(MembershipTableData view)
    {
        List<MembershipEntry> known;
        lock (_knowing) known = [.. _known.Values];
        return [.. known.Select(Freshest).Where(e => e.Status != SiloStatus.Dead && !Holds(view, e))];
    }

    /// <summary>
    /// The membership service's view, which also holds what gossip told this silo since its last
    /// read. Resolved when first needed: it is built on this table, so it cannot be a constructor's argument.
    /// </summary>
    private ClusterMembershipSnapshot? View => services.GetService<IClusterMembershipService>()?.CurrentSnapshot;

    /// <summary><paramref name="known"/>, with the status the membership view gives it when that is further on (Dead included: never restored).</summary>
    private MembershipEntry Freshest(MembershipEntry known)
    {
        var status = View?.GetSiloStatus(known.SiloAddress) ?? SiloStatus.None;
        return status <= known.Status ? known : new MembershipEntry
        {
            SiloAddress = known.SiloAddress, Status = status, SuspectTimes = [.. known.SuspectTimes ?? []], ProxyPort = known.ProxyPort,
            HostName = known.HostName, SiloName = known.SiloName, RoleName = known.RoleName, UpdateZone = known.UpdateZone,
            FaultZone = known.FaultZone, StartTime = known.StartTime, IAmAliveTime = known.IAmAliveTime,
        };
    }

    /// <summary>Whether <paramref name="view"/> lists <paramref name="entry"/>'s silo at least as far on as the entry does (the statuses are declared in lifecycle order).</summary>
    private static bool Holds(MembershipTableData view, MembershipEntry entry) => view.TryGet(entry.SiloAddress) is { } row && row.Item1.Status >= entry.Status;

    private async Task RestoreAsync(string why, CancellationToken cancellationToken)
    {
        await _restoring.WaitAsync(cancellationToken);
        try
        {
            _connection ??= (await redis.Value.CreateMultiplexer(redis.Value)).Multiplexer;
            // Above every version this silo has seen, so its own view and every other silo's accept the restored table.
            long version;
            lock (_knowing) version = Math.Max(_lastVersion ?? 0, View?.Version.Value ?? 0) + 1;
            await _connection.GetDatabase().HashSetAsync(_key, "Version", version, When.NotExists);
            var restored = 0;
            foreach (var entry in Lost(await ReadOrEmptyAsync(cancellationToken)))
            {
                // A conditional write: if another silo wrote the table meanwhile, read it again and retry.
                for (var attempt = 0; attempt < 8; attempt++)
                {
                    var now = await table.ReadAllAsync(cancellationToken);
                    if (Holds(now, entry)) break;
                    var written = now.TryGet(entry.SiloAddress) is { } behind
                        ? await table.UpdateRowAsync(entry, behind.Item2, now.Version.Next(), cancellationToken)
                        : await table.InsertRowAsync(entry, now.Version.Next(), cancellationToken);
                    if (written)
                    {
                        restored++;
                        break;
                    }
                }
            }
            log.LogWarning("The membership table in Redis was lost ({Why}); restored {Restored} rows this silo knew, at version {Version} or above",
                why, restored, version);
        }
        finally
        {
            _restoring.Release();
        }
    }

    /// <summary>The table as it stands, or an empty one at version 0 while its version is still missing.</summary>
    private async Task<MembershipTableData> ReadOrEmptyAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await table.ReadAllAsync(cancellationToken);
        }
        catch (RedisClusteringException)
        {
            return new MembershipTableData(new TableVersion(0, "0"));
        }
    }

    public Task InitializeMembershipTableAsync(bool tryInitTableVersion, CancellationToken cancellationToken = default) =>
        table.InitializeMembershipTableAsync(tryInitTableVersion, cancellationToken);

    public Task DeleteMembershipTableEntriesAsync(string clusterId, CancellationToken cancellationToken = default) =>
        table.DeleteMembershipTableEntriesAsync(clusterId, cancellationToken);

    public Task CleanupDefunctSiloEntriesAsync(DateTimeOffset beforeDate, CancellationToken cancellationToken = default) =>
        table.CleanupDefunctSiloEntriesAsync(beforeDate, cancellationToken);

    public Task<MembershipTableData> ReadRowAsync(SiloAddress key, CancellationToken cancellationToken = default) =>
        table.ReadRowAsync(key, cancellationToken);

    public async Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion tableVersion, CancellationToken cancellationToken = default)
    {
        var written = await table.InsertRowAsync(entry, tableVersion, cancellationToken);
        if (written) Learn(entry);
        return written;
    }

    public async Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion tableVersion, CancellationToken cancellationToken = default)
    {
        var written = await table.UpdateRowAsync(entry, etag, tableVersion, cancellationToken);
        if (written) Learn(entry);
        return written;
    }

    public Task UpdateIAmAliveAsync(MembershipEntry entry, CancellationToken cancellationToken = default) =>
        table.UpdateIAmAliveAsync(entry, cancellationToken);

    // The interface's older names, which Orleans still declares abstract.
    [Obsolete("Use InitializeMembershipTableAsync.")]
    public Task InitializeMembershipTable(bool tryInitTableVersion) => InitializeMembershipTableAsync(tryInitTableVersion);
    [Obsolete("Use DeleteMembershipTableEntriesAsync.")]
    public Task DeleteMembershipTableEntries(string clusterId) => DeleteMembershipTableEntriesAsync(clusterId);
    [Obsolete("Use CleanupDefunctSiloEntriesAsync.")]
    public Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate) => CleanupDefunctSiloEntriesAsync(beforeDate);
    [Obsolete("Use ReadRowAsync.")]
    public Task<MembershipTableData> ReadRow(SiloAddress key) => ReadRowAsync(key);
    [Obsolete("Use ReadAllAsync.")]
    public Task<MembershipTableData> ReadAll() => ReadAllAsync();
    [Obsolete("Use InsertRowAsync.")]
    public Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion) => InsertRowAsync(entry, tableVersion);
    [Obsolete("Use UpdateRowAsync.")]
    public Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) => UpdateRowAsync(entry, etag, tableVersion);
    [Obsolete("Use UpdateIAmAliveAsync.")]
    public Task UpdateIAmAlive(MembershipEntry entry) => UpdateIAmAliveAsync(entry);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_following is { } following) await following;
        _stop.Dispose();
        if (_connection is { } connection) await connection.DisposeAsync();
        _restoring.Dispose();
    }
}
