using Shootdown.Engine.Checkpoints;

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
