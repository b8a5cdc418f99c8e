using System.Runtime.InteropServices;
using Shootdown.Engine;
using Shootdown.Model.Simulation;

namespace Shootdown.Tests;

/// <summary>
/// A batch leaves its partition in the chunks its events were gathered in: the receiver reads
/// them where they lie and takes the chunks into its own pool, and the sender, which no longer
/// holds them, never writes them again.
/// </summary>
public sealed class PooledEventsTests
{
    private static SimEvent[] ArrayOf(ReadOnlyMemory<SimEvent> run) => MemoryMarshal.TryGetArray(run, out var segment) ? segment.Array! : throw new InvalidOperationException("not an array");

    private static SimEvent Numbered(int n) => new(Time: n, EventKind.CsdAck, Source: 0, Seq: n, Target: 1, Op: 0, Arg: 0, X: 0, Y: 0, Flags: 0);

    [Fact]
    public void AHandedOverBatchIsReadInItsChunks_WhichMoveToTheReceiversPool()
    {
        var senderPool = new ChunkPool();
        var receiverPool = new ChunkPool();
        var batch = new PooledEvents(senderPool);
        // Two full chunks and five events in a third.
        var count = 2 * ChunkPool.ChunkSize + 5;
        for (var n = 0; n < count; n++) batch.Add(Numbered(n));

        var runs = batch.HandOver();
        Assert.Equal(0, batch.Count);
        Assert.Equal([ChunkPool.ChunkSize, ChunkPool.ChunkSize, 5], runs.Select(r => r.Length));
        Assert.Equal(Enumerable.Range(0, count).Select(n => (long)n), runs.SelectMany(r => r.ToArray()).Select(e => e.Time));

        // The sender's next events go into a chunk of its own, not one it handed over, whose
        // events stay as they were (the third still has room after its five).
        var chunks = runs.Select(ArrayOf).ToList();
        for (var n = 0; n < ChunkPool.ChunkSize; n++) batch.Add(Numbered(1_000 + n));
        Assert.DoesNotContain(ArrayOf(batch.Runs()[0]), chunks);
        Assert.Equal(Enumerable.Range(0, count).Select(n => (long)n), runs.SelectMany(r => r.ToArray()).Select(e => e.Time));
        Assert.All(chunks[2].Skip(5), e => Assert.Equal(default, e));

        // Once read, the receiver's pool lends the chunks out again, last adopted first.
        foreach (var run in runs) receiverPool.Adopt(run);
        Assert.Same(chunks[2], receiverPool.Rent());
        Assert.Same(chunks[1], receiverPool.Rent());

        // A batch that came over the wire is one array of its own length: not a chunk, not adopted.
        var fromWire = new SimEvent[count];
        receiverPool.Adopt(fromWire);
        Assert.Same(chunks[0], receiverPool.Rent());
        Assert.Equal(ChunkPool.ChunkSize, receiverPool.Rent().Length);
    }

    /// <summary>A pool keeps as many free chunks as it was told, and leaves the rest of a burst to the collector.</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(ChunkPool.KeptByDefault)]
    public void APoolKeepsAsManyChunksAsItWasTold(int kept)
    {
        var pool = new ChunkPool(kept);
        var burst = Enumerable.Range(0, kept + 3).Select(_ => pool.Rent()).ToList();
        foreach (var chunk in burst) pool.Return(chunk);
        // Last returned, first lent: the kept ones are the first of the burst, in reverse.
        var again = Enumerable.Range(0, kept + 3).Select(_ => pool.Rent()).ToList();
        Assert.Equal(burst.Take(kept).Reverse(), again.Take(kept), ReferenceEqualityComparer.Instance);
        Assert.All(again.Skip(kept), chunk => Assert.DoesNotContain(burst, b => ReferenceEquals(b, chunk)));
    }
}
