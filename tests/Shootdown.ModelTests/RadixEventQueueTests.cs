using Shootdown.Engine.Queues;
using Shootdown.Model.Simulation;

namespace Shootdown.Tests;

/// <summary>
/// The reference engine's queue against .NET's heap: the same events, added and taken in the
/// same interleaving, come out in the same order. What a handler sends is never earlier than the
/// event it handles, but may be at that very time with a lower kind, so that event comes first.
/// </summary>
public sealed class RadixEventQueueTests
{
    [Theory]
    [InlineData(1, 1)]          // every event at one time: the sort on kind, source and sequence alone
    [InlineData(2, 50)]         // many ties
    [InlineData(3, 1_000)]
    [InlineData(4, 400_000)]    // a deep-idle exit's spread, across three digits
    [InlineData(5, 1L << 40)]   // far apart: the upper levels
    public void Takes_events_in_the_order_a_heap_gives(int seed, long spread)
    {
        var random = new Random(seed);
        var queue = new RadixEventQueue();
        var heap = new PriorityQueue<SimEvent, EventKey>();
        var seq = 0L;
        var now = 0L;
        void Send(long at)
        {
            var e = new SimEvent(at, (EventKind)random.Next(0, (int)EventKind.OpArrival + 1), random.Next(0, 64), ++seq, random.Next(0, 64), 0, 0, 0, 0, 0);
            queue.Add(e);
            heap.Enqueue(e, e.Key);
        }
        for (var i = 0; i < 200; i++) Send(random.NextInt64(0, spread));
        var taken = 0;
        while (heap.TryDequeue(out var expected, out _))
        {
            Assert.True(queue.TryPeekTime(out var time));
            Assert.Equal(expected.Time, time);
            var actual = queue.Take(out var slot);
            Assert.Equal(expected, actual);
            now = actual.Time;
            queue.Release(slot);
            // As a handler does: nothing, one send, or a broadcast; sometimes at this very time.
            var sends = taken++ < 20_000 ? random.Next(0, 3) == 0 ? 0 : random.Next(0, 10) == 0 ? 40 : 1 : 0;
            for (var s = 0; s < sends; s++) Send(random.Next(0, 8) == 0 ? now : now + random.NextInt64(1, spread + 1));
        }
        Assert.False(queue.TryPeekTime(out _));
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void Slots_keep_their_events_across_chunks_of_every_size()
    {
        // 300,000 slots reach chunk 10 (256 · 2^10 slots); freed slots are reused first.
        var slots = new EventSlots();
        static SimEvent Numbered(int n) => new(n, EventKind.CsdAck, n % 64, n, n % 97, n, n, n, n, n);
        var held = new List<int>();
        for (var n = 0; n < 300_000; n++) held.Add(slots.Put(Numbered(n)));
        ref var first = ref slots[held[0]];
        for (var i = 0; i < held.Count; i += 3) slots.Free(held[i]);
        var reused = Enumerable.Range(0, (held.Count + 2) / 3).Select(i => slots.Put(Numbered(1_000_000 + i))).ToList();

        Assert.Equal(Enumerable.Range(0, held.Count).Where(i => i % 3 == 0).Select(i => held[i]).Reverse(), reused);
        for (var i = 0; i < held.Count; i++)
            if (i % 3 != 0) Assert.Equal(Numbered(i), slots[held[i]]);
        for (var i = 0; i < reused.Count; i++) Assert.Equal(Numbered(1_000_000 + i), slots[reused[i]]);
        // A reference taken before more were added still reads its slot: the first slot, freed
        // first, was reused last.
        Assert.Equal(Numbered(1_000_000 + reused.Count - 1), first);
        Assert.Equal(held.Max() + 1, held.Count);
    }

    [Fact]
    public void Refuses_an_event_before_the_last_taken()
    {
        var queue = new RadixEventQueue();
        queue.Add(new SimEvent(100, EventKind.OpArrival, 0, 1, 0, 0, 0, 0, 0, 0));
        Assert.Equal(100, queue.Take(out var slot).Time);
        queue.Release(slot);
        var error = Assert.Throws<InvalidOperationException>(() => queue.Add(new SimEvent(99, EventKind.CsdAck, 1, 1, 2, 0, 0, 0, 0, 0)));
        Assert.Equal("CsdAck for 2 at 99 ns is earlier than the queue's clock, 100 ns", error.Message);
    }
}
