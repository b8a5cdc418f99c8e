using Shootdown.Engine.Checkpoints;

namespace Shootdown.Grains.Checkpoints;

/// <summary>
/// Where checkpoints are kept: somewhere that outlives the silo that wrote them. A cluster with
/// Redis membership keeps them in that Redis (<c>RedisCheckpointStore</c> in the silo host);
/// silos in one process (embedded clusters, tests) share <see cref="ProcessCheckpointStore"/>.
/// </summary>
public interface ICheckpointStore
{
    Task Put(string key, SealedPart part);

    /// <summary>The part in one array, or null if the key holds none (expired, deleted, never written).</summary>
    Task<byte[]?> Get(string key);

    Task Delete(IReadOnlyList<string> keys);
}

/// <summary>The keys of a run's checkpoint parts: one per partition.</summary>
public static class CheckpointKeys
{
    public static string Part(string runKey, int number, int partition) => $"shootdown/checkpoint/{runKey}/{number}/{partition}";

    public static IReadOnlyList<string> Parts(string runKey, int number, int partitions) =>
        [.. Enumerable.Range(0, partitions).Select(p => Part(runKey, number, p))];
}

/// <summary>
/// Checkpoints in this process's memory, shared by every silo it hosts: they outlive a silo, not
/// the process. A part is kept in the segments it was sealed in (the entity states as their
/// grains returned them), and put in one array only when a restore reads it.
/// </summary>
public sealed class ProcessCheckpointStore : ICheckpointStore
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, SealedPart> Values = new();

    public Task Put(string key, SealedPart part)
    {
        Values[key] = part;
        return Task.CompletedTask;
    }

    public Task<byte[]?> Get(string key) => Task.FromResult(Values.TryGetValue(key, out var part) ? part.ToArray() : null);

    public Task Delete(IReadOnlyList<string> keys)
    {
        foreach (var key in keys) Values.TryRemove(key, out _);
        return Task.CompletedTask;
    }
}
