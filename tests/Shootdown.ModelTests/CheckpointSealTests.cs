using Shootdown.Engine.Checkpoints;
using Shootdown.Model.Simulation;
using Shootdown.Model.Topology;

namespace Shootdown.Tests;

/// <summary>A checkpoint part is restored only if it is the part asked for, whole, unchanged, this build's and sealed with the cluster's key.</summary>
public sealed class CheckpointSealTests
{
    private static readonly byte[] Key = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];
    private static readonly CheckpointIdentity Id = new("run-1/baseline", 3, 1);
    private static readonly byte[] Payload = [.. Enumerable.Range(0, 1000).Select(i => (byte)(i * 7))];

    private static string Refusal(byte[] part, CheckpointIdentity? id = null, byte[]? key = null) =>
        Assert.Throws<CheckpointRefusedException>(() => CheckpointSeal.Open(part, id ?? Id, key ?? Key)).Message;

    [Fact]
    public void ASealedPartOpensToItsPayload() => Assert.Equal(Payload, CheckpointSeal.Open(CheckpointSeal.Seal(Payload, Id, Key), Id, Key).ToArray());

    [Fact]
    public void APayloadInSegmentsSealsToTheBytesOfItsConcatenation()
    {
        var segments = new ReadOnlyMemory<byte>[] { Payload.AsMemory(0, 1), Payload.AsMemory(1, 0), Payload.AsMemory(1, 500), Payload.AsMemory(501) };
        var part = CheckpointSeal.Seal(Id, Key, segments);
        Assert.Equal(CheckpointSeal.Seal(Payload, Id, Key), part.ToArray());
        // A piece read across segment boundaries, as a store writes pieces.
        var piece = new byte[600];
        part.CopyTo(part.Length - 32 - 700, piece);
        Assert.Equal(Payload[300..900], piece);
        Assert.Throws<ArgumentOutOfRangeException>(() => part.CopyTo(part.Length - 10, new byte[11]));
    }

    [Fact]
    public void APartitionsPartComesBackWithItsStatesAsViews()
    {
        var mask = CpuMask.FromWords(70, [0b110UL, 1UL << 3]);
        SimEvent[] events = [new(5, EventKind.OpArrival, 1, 2, 3, 4, 5, 6, 7, 8), new(9, EventKind.OpStepDone, 2, 3, 4, 5, 6, 7, 8, 9)];
        var part = new PartitionCheckpoint([events.AsMemory(0, 1), events.AsMemory(1)], [new MaskAttachment(1, 2, 3, mask)], [4, 7, 9],
            [new byte[] { 1, 2, 3 }, Array.Empty<byte>(), new byte[] { 4 }]);
        var sealedPart = CheckpointSeal.Seal(Id, Key, part.Segments());
        var back = PartitionCheckpoint.Read(CheckpointSeal.Open(sealedPart.ToArray(), Id, Key));
        Assert.Equal(events, back.Waiting.Single().ToArray());
        Assert.Equal((1, 2L, 3, mask), (back.WaitingMasks.Single().Source, back.WaitingMasks.Single().Seq, back.WaitingMasks.Single().Target, back.WaitingMasks.Single().Mask));
        Assert.Equal([4, 7, 9], back.Entities);
        Assert.Equal([[1, 2, 3], [], [4]], back.States.Select(state => state.ToArray()));
    }

    [Fact]
    public void EveryFlippedBitIsRefused()
    {
        var part = CheckpointSeal.Seal(Payload, Id, Key);
        for (var i = 0; i < part.Length; i += 37)
        {
            var changed = (byte[])part.Clone();
            changed[i] ^= 0x10;
            Assert.StartsWith("checkpoint part run-1/baseline #3 part 1 refused: ", Refusal(changed));
        }
        var inPayload = (byte[])part.Clone();
        inPayload[part.Length / 2] ^= 1;
        Assert.Equal("checkpoint part run-1/baseline #3 part 1 refused: its integrity check fails (changed, truncated, or written with another cluster's key)", Refusal(inPayload));
    }

    [Fact]
    public void ACutPartIsOneLineNotAnEndOfStream()
    {
        var part = CheckpointSeal.Seal(Payload, Id, Key);
        foreach (var length in new[] { 0, 3, 10, 40, part.Length / 2, part.Length - 1 })
            Assert.DoesNotContain('\n', Refusal(part[..length]));
        Assert.EndsWith("not a Shootdown checkpoint part (no header)", Refusal(part[..10]));
    }

    [Fact]
    public void AnotherKeyBuildOrPartIsRefused()
    {
        Assert.EndsWith("its integrity check fails (changed, truncated, or written with another cluster's key)",
            Refusal(CheckpointSeal.Seal(Payload, Id, new byte[32])));
        Assert.EndsWith($"written by build 0.0.1+other, this is {CheckpointSeal.Build}", Refusal(CheckpointSeal.Seal(Payload, Id, Key, "0.0.1+other")));
        Assert.EndsWith("refused: it holds run-1/baseline #2 part 1", Refusal(CheckpointSeal.Seal(Payload, Id with { Number = 2 }, Key)));
    }

    [Fact]
    public void KeysComeFromAFileOrTheClusterId()
    {
        var file = Path.Combine(Sim.TempDir(), "key");
        File.WriteAllBytes(file, new byte[31]);
        Assert.Equal($"{file} holds 31 bytes; a checkpoint key needs at least 32", Assert.Throws<InvalidDataException>(() => CheckpointKey.FromFile(file)).Message);
        File.WriteAllBytes(file, Key);
        Assert.Equal(Key, CheckpointKey.FromFile(file).Bytes);
        Assert.Equal(CheckpointKey.FromClusterId("a").Bytes, CheckpointKey.FromClusterId("a").Bytes);
        Assert.NotEqual(CheckpointKey.FromClusterId("a").Bytes, CheckpointKey.FromClusterId("b").Bytes);
    }
}
