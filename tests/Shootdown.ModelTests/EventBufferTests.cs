using Shootdown.Engine;
using Shootdown.Model.Simulation;

namespace Shootdown.Tests;

/// <summary>
/// A window's outbox: every stretch taken reads back exactly what was added in it, in order, even
/// when later stretches moved the buffer to another segment, and again after it was cleared.
/// </summary>
public sealed class EventBufferTests
{
    private static SimEvent Numbered(int n) => new(Time: n, EventKind.CsdAck, Source: 0, Seq: n, Target: 1, Op: 0, Arg: 0, X: 0, Y: 0, Flags: 0);

    [Theory]
    [InlineData(1 << 16)]
    [InlineData(int.MaxValue)]
    public void EveryStretchReadsBackWhatWasAddedInIt_AcrossSegmentsAndAfterClear(int maxSegmentLength)
    {
        var buffer = new EventBuffer(maxSegmentLength);
        // 216,131 events a round: with 65,536-event segments, past three of them, with a stretch
        // longer than a segment and stretches that straddle a segment's end; uncapped, through
        // one doubling after another, each moving the stretch under way.
        int[] stretches = [10, 60, 1_000, 40_000, 70_000, 30_000, 1, 0, 65_536, 9_524];
        for (var round = 0; round < 2; round++)
        {
            var next = 0;
            var taken = new List<(int First, ReadOnlyMemory<SimEvent> Events)>();
            foreach (var length in stretches)
            {
                var first = next;
                for (var i = 0; i < length; i++) buffer.Add(Numbered(next++));
                taken.Add((first, buffer.TakeAdded()));
            }
            Assert.Equal(stretches, taken.Select(t => t.Events.Length));
            foreach (var (first, events) in taken)
                for (var i = 0; i < events.Length; i++)
                    Assert.Equal(first + i, events.Span[i].Seq);
            buffer.Clear();
        }
    }
}
