using Shootdown.Grains.Checkpoints;
using StackExchange.Redis;

namespace Shootdown.Silo;

/// <summary>
/// Checkpoints in the Redis that holds the cluster's membership, so they outlive any silo. Each
/// part expires after a day, so a run abandoned with its client leaves nothing behind for long.
/// </summary>
public sealed class RedisCheckpointStore(Membership.Redis redis) : ICheckpointStore, IDisposable
{
    private static readonly TimeSpan Expiry = TimeSpan.FromDays(1);

    private readonly Lazy<Task<ConnectionMultiplexer>> _connection = new(() => ConnectionMultiplexer.ConnectAsync(ShootdownSilo.RedisOptions(redis)));

    private async Task<IDatabase> Database() => (await _connection.Value).GetDatabase();

    public async Task Put(string key, byte[] value) => await (await Database()).StringSetAsync(key, value, Expiry);

    public async Task<byte[]?> Get(string key) => await (await Database()).StringGetAsync(key) is { HasValue: true } value ? (byte[])value! : null;

    public async Task Delete(IReadOnlyList<string> keys) => await (await Database()).KeyDeleteAsync([.. keys.Select(k => (RedisKey)k)]);

    public void Dispose()
    {
        if (_connection.IsValueCreated && _connection.Value.IsCompletedSuccessfully) _connection.Value.Result.Dispose();
    }
}
