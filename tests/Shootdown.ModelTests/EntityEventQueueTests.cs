using Shootdown.Engine.Queues;
using Shootdown.Model.Simulation;

namespace Shootdown.Tests;

/// <summary>
/// An entity's queue against .NET's heap, whose algorithm it repeats: the same events, added and
/// taken in the same interleaving, come out in the same order, and the pending ones lie in the
/// same heap order (a checkpoint writes them so), also after its arrays went back to the pool and
/// were taken again.
/// </summary>
public sealed class EntityEventQueueTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Takes_and_holds_events_as_dotnets_heap_does(int seed)
    {
        var random = new Random(seed);
        var queue = new EntityEventQueue();
        var heap = new PriorityQueue<SimEvent, EventKey>();
        var seq = 0L;
        var now = 0L;
        void Send(long at)
        {
            var e = new SimEvent(at, (EventKind)random.Next(0, (int)EventKind.OpArrival + 1), random.Next(0, 64), ++seq, 7, 0, 0, 0, 0, 0);
            queue.Enqueue(e);
            heap.Enqueue(e, e.Key);
        }
        void AssertSameHeapOrder() =>
            Assert.Equal(heap.UnorderedItems.Select(item => item.Element), Enumerable.Range(0, queue.Count).Select(i => queue[i]));
        // Bursts of thousands, as an initiator's answers come, drained between them, so that the
        // queue grows, gives its arrays back and takes others.
        for (var burst = 0; burst < 6; burst++)
        {
            for (var i = random.Next(1, 5_000); i > 0; i--) Send(now + random.NextInt64(0, 10_000));
            AssertSameHeapOrder();
            var keep = burst % 2 == 0 ? 0 : random.Next(1, 40);
            while (heap.Count > keep)
            {
                var expected = heap.Dequeue();
                Assert.True(queue.TryPeek(out var key));
                Assert.Equal(expected.Key, key);
                Assert.Equal(expected, queue.Dequeue());
                now = expected.Time;
                if (random.Next(0, 4) == 0) Send(now + random.NextInt64(0, 100));
                if (random.Next(0, 64) == 0)
                {
                    queue.Trim();
                    AssertSameHeapOrder();
                }
            }
            queue.Trim();
            AssertSameHeapOrder();
            Assert.Equal(heap.Count, queue.Count);
        }
    }
}
