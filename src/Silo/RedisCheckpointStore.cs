using Shootdown.Grains.Checkpoints;
using StackExchange.Redis;

namespace Shootdown.Silo;

/// <summary>
/// Checkpoints in the Redis that holds the cluster's membership, so they outlive any silo. A part
/// is stored in pieces of at most <see cref="PieceBytes"/> (a storm on 8192 CPUs has parts of
/// hundreds of MB, and Redis takes at most 512 MB a value and a few seconds a command), under
/// KEY/0, KEY/1, ... with their count under KEY. Each expires after a day, so a run abandoned
/// with its client leaves nothing behind for long.
/// </summary>
public sealed class RedisCheckpointStore(Membership.Redis redis) : ICheckpointStore, IDisposable
{
    private const int PieceBytes = 16 << 20;
    private static readonly TimeSpan Expiry = TimeSpan.FromDays(1);

    private readonly Lazy<Task<ConnectionMultiplexer>> _connection = new(() => ConnectionMultiplexer.ConnectAsync(ShootdownSilo.RedisOptions(redis)));

    private async Task<IDatabase> Database() => (await _connection.Value).GetDatabase();

    public async Task Put(string key, byte[] value)
    {
        var db = await Database();
        var pieces = Math.Max(1, (value.Length + PieceBytes - 1) / PieceBytes);
        for (var i = 0; i < pieces; i++)
        {
            var start = i * PieceBytes;
            await db.StringSetAsync($"{key}/{i}", value.AsMemory(start, Math.Min(PieceBytes, value.Length - start)), Expiry);
        }
        // The count last: a part whose count is there is whole.
        await db.StringSetAsync(key, pieces, Expiry);
    }

    public async Task<byte[]?> Get(string key)
    {
        var db = await Database();
        if (await db.StringGetAsync(key) is not { HasValue: true } count) return null;
        using var whole = new MemoryStream();
        for (var i = 0; i < (int)count; i++)
        {
            if (await db.StringGetAsync($"{key}/{i}") is not { HasValue: true } piece) throw new InvalidOperationException($"checkpoint part {key} lost piece {i}");
            whole.Write((byte[])piece!);
        }
        return whole.ToArray();
    }

    public async Task Delete(IReadOnlyList<string> keys)
    {
        var db = await Database();
        foreach (var key in keys)
        {
            var count = await db.StringGetAsync(key) is { HasValue: true } c ? (int)c : 0;
            await db.KeyDeleteAsync([key, .. Enumerable.Range(0, count).Select(i => (RedisKey)$"{key}/{i}")]);
        }
    }

    public void Dispose()
    {
        if (_connection.IsValueCreated && _connection.Value.IsCompletedSuccessfully) _connection.Value.Result.Dispose();
    }
}
