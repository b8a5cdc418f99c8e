using Shootdown.Engine.Queues;
using Shootdown.Model.Simulation;

namespace Shootdown.Tests;

/// <summary>
/// An entity's queue against .NET's heap, whose algorithm it repeats: the same events, added and
/// taken in the same interleaving, come out in the same order, and the pending ones lie in the
/// same heap order (a checkpoint writes them so), also after its arrays went back to the pool and
/// were taken again; and the same when several queues keep their events in one shared store, as a
/// partition's entities do in process, each taking slots the others freed.
/// </summary>
public sealed class EntityEventQueueTests
{
    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 0)]
    [InlineData(3, 0)]
    [InlineData(1, 3)]
    [InlineData(2, 3)]
    public void Takes_and_holds_events_as_dotnets_heap_does(int seed, int queuesSharingAStore)
    {
        var random = new Random(seed);
        var store = queuesSharingAStore > 0 ? new EventSlots() : null;
        var queues = Enumerable.Range(0, Math.Max(1, queuesSharingAStore)).Select(_ => new EntityEventQueue(store)).ToArray();
        var heaps = queues.Select(_ => new PriorityQueue<SimEvent, EventKey>()).ToArray();
        var seq = 0L;
        var now = 0L;
        void Send(int q, long at)
        {
            var e = new SimEvent(at, (EventKind)random.Next(0, (int)EventKind.OpArrival + 1), random.Next(0, 64), ++seq, 7 + q, 0, 0, 0, 0, 0);
            queues[q].Enqueue(e);
            heaps[q].Enqueue(e, e.Key);
        }
        void AssertSameHeapOrder()
        {
            for (var q = 0; q < queues.Length; q++)
                Assert.Equal(heaps[q].UnorderedItems.Select(item => item.Element), Enumerable.Range(0, queues[q].Count).Select(i => queues[q][i]));
        }
        // Bursts of thousands, as an initiator's answers come, drained between them, so that the
        // queue grows, gives its arrays back and takes others; with a shared store, the queues'
        // events interleave in it.
        for (var burst = 0; burst < 6; burst++)
        {
            for (var i = random.Next(1, 5_000); i > 0; i--) Send(random.Next(queues.Length), now + random.NextInt64(0, 10_000));
            AssertSameHeapOrder();
            var keep = burst % 2 == 0 ? 0 : random.Next(1, 40);
            while (heaps.Sum(h => h.Count) > keep)
            {
                var q = random.Next(queues.Length);
                if (heaps[q].Count == 0) continue;
                var expected = heaps[q].Dequeue();
                Assert.True(queues[q].TryPeek(out var key));
                Assert.Equal(expected.Key, key);
                Assert.Equal(expected, queues[q].Dequeue());
                now = Math.Max(now, expected.Time);
                if (random.Next(0, 4) == 0) Send(random.Next(queues.Length), now + random.NextInt64(0, 100));
                if (random.Next(0, 64) == 0)
                {
                    queues[q].Trim();
                    AssertSameHeapOrder();
                }
            }
            foreach (var queue in queues) queue.Trim();
            AssertSameHeapOrder();
            for (var q = 0; q < queues.Length; q++) Assert.Equal(heaps[q].Count, queues[q].Count);
        }
    }
}
