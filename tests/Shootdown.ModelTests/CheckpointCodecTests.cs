using Shootdown.Engine.Checkpoints;

namespace Shootdown.Tests;

/// <summary>The checkpoint codec on small graphs: what it keeps, what it shares, what it refuses.</summary>
public sealed class CheckpointCodecTests
{
    private sealed class Setup(int[] table)
    {
        public int[] Table { get; } = table;
    }

    private sealed class Node
    {
        public Setup? Shared;
        public Node? Next;
        public long Count;
        public int? Maybe;
        public (long Time, int Kind)[] Events = [];
        public Dictionary<string, List<int>> ByName = new(StringComparer.Ordinal);
        public HashSet<long> Seen = [];
        public Queue<(int, long)> Pending = new();
        public string? Label;
        public Action? Callback;
    }

    [Fact]
    public void AGraphComesBackWithItsSharingCyclesAndCollectionsAndPointsAtTheReadersSharedObjects()
    {
        var writerSetup = new Setup([1, 2, 3]);
        var node = new Node { Shared = writerSetup, Count = 42, Maybe = 7, Events = [(10, 1), (20, 2)], Label = "cpu 3" };
        node.Next = node;
        node.ByName["a"] = [1, 2];
        node.ByName["b"] = node.ByName["a"];
        node.Seen.UnionWith([5, 9]);
        node.Pending.Enqueue((1, 100));
        node.Pending.Enqueue((2, 200));
        node.Pending.Dequeue();

        var bytes = ObjectGraphCodec.Write(node, new SharedObjects(writerSetup));
        // The reading side built its own setup from the same definition.
        var readerSetup = new Setup([1, 2, 3]);
        var copy = ObjectGraphCodec.Read<Node>(bytes, new SharedObjects(readerSetup));

        Assert.Same(readerSetup, copy.Shared);
        Assert.Same(copy, copy.Next);
        Assert.Equal((42L, 7, "cpu 3"), (copy.Count, copy.Maybe, copy.Label));
        Assert.Equal(node.Events, copy.Events);
        Assert.Same(copy.ByName["a"], copy.ByName["b"]);
        Assert.Equal([1, 2], copy.ByName["a"]);
        Assert.Equal(StringComparer.Ordinal, copy.ByName.Comparer);
        Assert.True(copy.Seen.SetEquals([5, 9]));
        copy.Seen.Add(11);
        Assert.Contains(11L, copy.Seen);
        Assert.Equal([(2, 200L)], copy.Pending);
    }

    [Fact]
    public void ADelegateInTheStateIsRefusedWithItsPath()
    {
        var node = new Node { Callback = () => { } };
        var error = Assert.Throws<NotSupportedException>(() => ObjectGraphCodec.Write(node, new SharedObjects()));
        Assert.Contains("root.Callback", error.Message);
    }
}
