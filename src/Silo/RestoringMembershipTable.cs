using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Clustering.Redis;
using Orleans.Configuration;
using StackExchange.Redis;

namespace Shootdown.Silo;

/// <summary>
/// The Redis membership table, restored by the silos when Redis loses it. Redis restarted without
/// persistence (or flushed, or failed over to an empty replica) comes back without the table:
/// Orleans' Redis provider then fails every read with "the Redis membership table version is
/// missing" and never writes it again, so the silos keep running on their last view while no new
/// client finds a gateway and no silo can join. Each silo keeps the last table it read; when a read
/// finds the table gone, or a row of a silo still alive in that view missing, it writes back the
/// version above the highest it saw (Orleans accepts a view only if its version is newer) and the
/// missing rows of its last view, then reads again. The first silo to notice restores every row;
/// the others find theirs there. Rows are written through the provider itself, so they are in its
/// own format, and conditionally (a row another silo restored or changed meanwhile is left alone).
/// A silo declared dead is not restored: only a loss of the table is undone, never a decision.
/// </summary>
public sealed class RestoringMembershipTable(IMembershipTable table, IOptions<RedisClusteringOptions> redis, IOptions<ClusterOptions> cluster,
    ILogger<RestoringMembershipTable> log) : IMembershipTable, IAsyncDisposable
{
    private readonly RedisKey _key = redis.Value.CreateRedisKey(cluster.Value);
    private readonly SemaphoreSlim _restoring = new(1, 1);
    private MembershipTableData? _lastView;
    private IConnectionMultiplexer? _connection;

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
        catch (RedisClusteringException lost) when (_lastView is { } last)
        {
            // "The Redis membership table version is missing": Redis came back empty.
            await RestoreAsync(last, lost.Message, cancellationToken);
            view = await table.ReadAllAsync(cancellationToken);
        }
        if (_lastView is { } previous && Missing(previous, view).Count() is var missing and > 0)
        {
            await RestoreAsync(previous, $"{missing} rows missing", cancellationToken);
            view = await table.ReadAllAsync(cancellationToken);
        }
        _lastView = view;
        return view;
    }

    /// <summary>The rows of silos alive in <paramref name="previous"/> that <paramref name="current"/> lacks.</summary>
    private static IEnumerable<MembershipEntry> Missing(MembershipTableData previous, MembershipTableData current) =>
        previous.Members.Select(m => m.Item1).Where(e => e.Status != SiloStatus.Dead && current.TryGet(e.SiloAddress) is null);

    private async Task RestoreAsync(MembershipTableData last, string why, CancellationToken cancellationToken)
    {
        await _restoring.WaitAsync(cancellationToken);
        try
        {
            _connection ??= (await redis.Value.CreateMultiplexer(redis.Value)).Multiplexer;
            // Above every version this silo has seen, so its own view and every other silo's accept the restored table.
            var version = last.Version.Version + 1;
            await _connection.GetDatabase().HashSetAsync(_key, "Version", version, When.NotExists);
            var restored = 0;
            foreach (var entry in last.Members.Select(m => m.Item1).Where(e => e.Status != SiloStatus.Dead))
            {
                // A conditional insert: if another silo wrote the table meanwhile, read it again and retry.
                for (var attempt = 0; attempt < 8; attempt++)
                {
                    var now = await table.ReadAllAsync(cancellationToken);
                    if (now.TryGet(entry.SiloAddress) is not null) break;
                    if (await table.InsertRowAsync(entry, now.Version.Next(), cancellationToken))
                    {
                        restored++;
                        break;
                    }
                }
            }
            log.LogWarning("The membership table in Redis was lost ({Why}); restored {Restored} rows of this silo's last view at version {Version} or above",
                why, restored, version);
        }
        finally
        {
            _restoring.Release();
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

    public Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion tableVersion, CancellationToken cancellationToken = default) =>
        table.InsertRowAsync(entry, tableVersion, cancellationToken);

    public Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion tableVersion, CancellationToken cancellationToken = default) =>
        table.UpdateRowAsync(entry, etag, tableVersion, cancellationToken);

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
        if (_connection is { } connection) await connection.DisposeAsync();
        _restoring.Dispose();
    }
}
