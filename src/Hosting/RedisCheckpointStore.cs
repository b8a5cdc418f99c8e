using Shootdown.Engine.Checkpoints;
using Shootdown.Grains;
using Shootdown.Grains.Checkpoints;
using StackExchange.Redis;

namespace Shootdown.Hosting;

/// <summary>
/// Checkpoints in the Redis that holds the cluster's membership, so they outlive any silo. A part
/// is stored in pieces of at most <see cref="PieceBytes"/> (a storm on 8192 CPUs has parts of
/// hundreds of MB, and Redis takes at most 512 MB a value and a few seconds a command), under
/// KEY/0, KEY/1, ... with their count under KEY. Each expires after a day, so a run abandoned
/// with its client leaves nothing behind for long. Redis trouble is a <see cref="CheckpointStoreFault"/>
/// (which crosses the wire; Redis's exceptions do not), and a connection that could not be made
/// is tried again on the next call rather than kept failed for good.
/// </summary>
public sealed class RedisCheckpointStore(Membership.Redis redis) : ICheckpointStore, IDisposable
{
    private const int PieceBytes = 16 << 20;
    private static readonly TimeSpan Expiry = TimeSpan.FromDays(1);

    private readonly Lock _gate = new();
    private Task<ConnectionMultiplexer>? _connection;

    private async Task<IDatabase> Database()
    {
        Task<ConnectionMultiplexer> connecting;
        lock (_gate)
        {
            // A first connection that failed is not kept: the next call connects again. Once made,
            // the multiplexer reconnects by itself.
            if (_connection is null || _connection.IsFaulted || _connection.IsCanceled)
                _connection = ConnectionMultiplexer.ConnectAsync(ShootdownSilo.RedisOptions(redis));
            connecting = _connection;
        }
        return (await connecting).GetDatabase();
    }

    /// <summary>Runs a store operation; Redis trouble becomes one declared fault naming the store and the cause.</summary>
    private async Task<T> Guarded<T>(string what, Func<Task<T>> operation)
    {
        try
        {
            return await operation();
        }
        catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
        {
            throw new CheckpointStoreFault($"checkpoint store (Redis at {redis}): {what}: {e.GetBaseException().Message.Split('\n')[0].Trim()}");
        }
    }

    public Task Put(string key, SealedPart part) => Guarded("write", async () =>
    {
        await PutPieces(key, part);
        return 0;
    });

    public Task<byte[]?> Get(string key) => Guarded("read", () => GetPieces(key));

    public Task Delete(IReadOnlyList<string> keys) => Guarded("delete", async () =>
    {
        await DeleteParts(keys);
        return 0;
    });

    /// <summary>The part's segments gathered piece by piece into one buffer, so the part is never in one array here.</summary>
    private async Task PutPieces(string key, SealedPart part)
    {
        var db = await Database();
        var pieces = (int)Math.Max(1, (part.Length + PieceBytes - 1) / PieceBytes);
        var buffer = new byte[Math.Min(PieceBytes, part.Length)];
        for (var i = 0; i < pieces; i++)
        {
            var start = (long)i * PieceBytes;
            var piece = buffer.AsMemory(0, (int)Math.Min(PieceBytes, part.Length - start));
            part.CopyTo(start, piece.Span);
            // Awaited before the buffer is filled again: the command has been sent and answered.
            await db.StringSetAsync($"{key}/{i}", piece, Expiry);
        }
        // The count last: a part whose count is there is whole.
        await db.StringSetAsync(key, pieces, Expiry);
    }

    private async Task<byte[]?> GetPieces(string key)
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

    private async Task DeleteParts(IReadOnlyList<string> keys)
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
        if (_connection is { IsCompletedSuccessfully: true } made) made.Result.Dispose();
    }
}
