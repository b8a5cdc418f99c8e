using System.Collections.Immutable;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Shootdown.Engine;
using Shootdown.Grains;
using Shootdown.Model.Simulation;
using Shootdown.Model.State;
using Shootdown.Model.Topology;
using Shootdown.Protocol;

namespace Shootdown.Tests;

/// <summary>
/// The window path's messages as Orleans carries them between silos: each comes back field for
/// field through the serializer the silos use, each event in it weighs the state contract's 57
/// bytes (the encoding checkpoints use, no surrogate), and a local call passes the value as it is.
/// </summary>
public sealed class WireCodecTests
{
    private static readonly Serializer Wire = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();

    private static readonly DeepCopier Copier = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<DeepCopier>();

    private static ImmutableArray<SimEvent> Events(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new SimEvent(1_000 + i, EventKind.OpArrival, Source: 4_095 - i, Seq: (1L << 32) + i, Target: i,
            Op: -7, Arg: 3, X: long.MaxValue, Y: long.MinValue, Flags: 0b101))];

    private static readonly ImmutableArray<MaskAttachment> Masks = [new(4_095, 1L << 32, 0, CpuMask.FromWords(70, [0b1011UL, 1UL << 5]))];

    private static readonly Frontier Bounds = new(new EntityTimes(10, long.MaxValue), new EntityTimes(long.MaxValue, 20));

    private static T RoundTrip<T>(T value) where T : notnull => Wire.Deserialize<T>(Wire.SerializeToArray(value))!;

    private static void SameMasks(ImmutableArray<MaskAttachment> expected, ImmutableArray<MaskAttachment> actual)
    {
        Assert.Equal(expected.Select(m => (m.Source, m.Seq, m.Target, m.Mask.NrCpus)), actual.Select(m => (m.Source, m.Seq, m.Target, m.Mask.NrCpus)));
        Assert.Equal(expected.SelectMany(m => m.Mask.Words.ToArray()), actual.SelectMany(m => m.Mask.Words.ToArray()));
    }

    [Fact]
    public void EveryWindowMessageComesBackFieldForField()
    {
        // An entity's events are views of its partition's chunks, read back as one run.
        var input = new EntityInput(5_000, [Events(3).AsMemory()[..2], Events(3).AsMemory()[2..]], Masks);
        var inputBack = RoundTrip(input);
        Assert.Equal(input.WindowEnd, inputBack.WindowEnd);
        Assert.Equal(Events(3), Assert.Single(inputBack.Events).ToArray());
        SameMasks(input.Masks, inputBack.Masks);

        var window = new EntityWindow(Bounds, Events(2), Masks, EventsProcessed: 12, LastEventTime: 4_999, WakeLatency: 290_000);
        var windowBack = RoundTrip(window);
        Assert.Equal((window.Frontier, window.EventsProcessed, window.LastEventTime, window.WakeLatency),
            (windowBack.Frontier, windowBack.EventsProcessed, windowBack.LastEventTime, windowBack.WakeLatency));
        Assert.Equal(window.Sent.ToArray(), windowBack.Sent.ToArray());
        SameMasks(window.SentMasks, windowBack.SentMasks);

        // A batch is written from the sender's chunks and read back as one run.
        var batch = new PartitionBatch(From: 3, [Events(4).AsMemory()[..1], Events(4).AsMemory()[1..]], []);
        var batchBack = RoundTrip(batch);
        Assert.Equal(batch.From, batchBack.From);
        Assert.Equal(Events(4), Assert.Single(batchBack.Events).ToArray());
        Assert.Empty(batchBack.Masks);

        var report = new PartitionReport(new PartitionStep(Bounds, [1, 2], [Frontier.Idle, Bounds], EventsProcessed: 1L << 40, LastEventTime: 9,
            new WakingBounds(Until: 7_000, new EntityTimes(6_500, long.MaxValue))), EntityCalls: 8, BatchCalls: 7);
        var reportBack = RoundTrip(report);
        Assert.Equal((report.Step.Frontier, report.Step.EventsProcessed, report.Step.LastEventTime, report.Step.Waking, report.EntityCalls, report.BatchCalls),
            (reportBack.Step.Frontier, reportBack.Step.EventsProcessed, reportBack.Step.LastEventTime, reportBack.Step.Waking, reportBack.EntityCalls, reportBack.BatchCalls));
        Assert.Equal(report.Step.SentTo.ToArray(), reportBack.Step.SentTo.ToArray());
        Assert.Equal(report.Step.SentFrontier.ToArray(), reportBack.Step.SentFrontier.ToArray());

        Assert.Equal(new EntityTimes(3, long.MaxValue), RoundTrip(new EntityTimes(3, long.MaxValue)));
    }

    [Fact]
    public void EachEventWeighsTheContractsFiftySevenBytes()
    {
        // From 300 events to 1,000 the field's length prefix has the same width (three bytes).
        var few = Wire.SerializeToArray(new PartitionBatch(0, [Events(300).AsMemory()], [])).Length;
        var thousand = Wire.SerializeToArray(new PartitionBatch(0, [Events(1_000).AsMemory()], [])).Length;
        Assert.Equal(700 * SimEventState.EventSize, thousand - few);
    }

    [Fact]
    public void ALocalCallPassesTheMessageAsItIs()
    {
        var batch = new PartitionBatch(1, [Events(2).AsMemory()], Masks);
        Assert.Same(batch, Copier.Copy(batch));
        Assert.Equal(Bounds.Next, Copier.Copy(Bounds.Next));
    }
}
