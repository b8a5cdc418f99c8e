using System.Buffers;
using Shootdown.Model.Simulation;

namespace Shootdown.Engine.Queues;

/// <summary>
/// One entity's pending events in their total order: a 4-ary min-heap of keys and slot numbers
/// over a store of the events in numbered slots, freed slots reused first. The bound on what
/// handling an event can write is not kept beside it: it is a function of the event alone
/// (<see cref="EntityRunner"/> computes it where needed), and a storm's initiators hold two
/// million answers at once, where 16 more bytes each were 32 MB more to touch.
/// <para>
/// The store is the queue's own, or one that the queues of a partition's entities share
/// (<see cref="EventSlots"/>, as the reference engine's queue keeps its events). A grain alone
/// holds its entity's state, so on grains each queue keeps its own arrays. In process a partition
/// owns its entities and runs them on one thread at a time, so their queues share one store: a
/// slot freed by one entity is the next one any of them takes, as in the reference, and the
/// events a partition holds take the room of its most pending at once, not the sum of each
/// entity's most (a storm's csds wait at their targets, then their answers at the initiators).
/// </para>
/// <para>
/// Why not .NET's <see cref="PriorityQueue{TElement, TPriority}"/> beside a store of its own: both
/// would keep the largest size they ever reached. A storm's initiator holds a broadcast's 8,191
/// answers and 8,191 unlocks at once (32,768 slots after doubling, 3.4 MB with the heap) and then
/// almost nothing, and each of 256 initiators does so in turn, so a windowed run touched a gigabyte
/// of fresh pages that the reference never needs. Here the arrays come from
/// <see cref="ArrayPool{T}.Shared"/> and go back when the queue has shrunk to a quarter of them
/// (<see cref="Trim"/>), so the next initiator's broadcast reuses them.
/// </para>
/// <para>
/// The heap is <see cref="PriorityQueue{TElement, TPriority}"/>'s own algorithm (arity 4, the last
/// node moved down from the root on a take), and keys are unique, so every node sits where that
/// class would put it: the events in heap order (<see cref="this[int]"/>), which a checkpoint
/// writes, are the same sequence, whichever store holds them.
/// </para>
/// </summary>
public sealed class EntityEventQueue(EventSlots? shared = null)
{
    private const int Log2Arity = 2;
    /// <summary>The least capacity the pool hands out; below it a queue keeps what it has.</summary>
    private const int MinCapacity = 16;

    private readonly record struct Node(EventKey Key, int Slot);

    private Node[] _nodes = [];
    /// <summary>The store the queues of a partition share, or null: the events lie in <see cref="_slots"/>.</summary>
    private readonly EventSlots? _shared = shared;
    private SimEvent[] _slots = [];
    /// <summary>Freed slots of <see cref="_slots"/>, reused first; the slots in use or freed are always 0 to Count + _freeCount - 1.</summary>
    private int[] _free = [];
    private int _freeCount;

    public int Count { get; private set; }

    /// <summary>The earliest pending event's key, if any.</summary>
    public bool TryPeek(out EventKey key)
    {
        if (Count == 0)
        {
            key = default;
            return false;
        }
        key = _nodes[0].Key;
        return true;
    }

    /// <summary>Room for <paramref name="count"/> pending events in all, in one growth at most.</summary>
    public void EnsureCapacity(int count)
    {
        if (count > _nodes.Length) Resize(Math.Max(count, 2 * _nodes.Length));
    }

    public void Enqueue(in SimEvent e)
    {
        if (Count == _nodes.Length) Resize(Math.Max(MinCapacity, 2 * Count));
        int slot;
        if (_shared is not null) slot = _shared.Put(e);
        else
        {
            slot = _freeCount > 0 ? _free[--_freeCount] : Count;
            _slots[slot] = e;
        }
        MoveUp(new Node(e.Key, slot), Count++);
    }

    /// <summary>Takes the earliest pending event.</summary>
    public SimEvent Dequeue()
    {
        var slot = _nodes[0].Slot;
        var last = --Count;
        if (last > 0) MoveDown(_nodes[last], 0);
        if (_shared is not null)
        {
            var e = _shared[slot];
            _shared.Free(slot);
            return e;
        }
        _free[_freeCount++] = slot;
        return _slots[slot];
    }

    /// <summary>The <paramref name="i"/>-th pending event in heap order (not time order), for <paramref name="i"/> below <see cref="Count"/>.</summary>
    public ref readonly SimEvent this[int i] => ref _shared is null ? ref _slots[_nodes[i].Slot] : ref _shared[_nodes[i].Slot];

    /// <summary>
    /// Gives the arrays back to the pool once they are four times what the queue holds, keeping
    /// twice that: a queue that grew for a burst does not keep the burst's memory, and one that
    /// shrinks is not copied again until it halves twice more.
    /// </summary>
    public void Trim()
    {
        if (_nodes.Length > MinCapacity && Count <= _nodes.Length / 4) Resize(Count == 0 ? 0 : Math.Max(MinCapacity, 2 * Count));
    }

    /// <summary>
    /// Moves the queue to arrays of at least <paramref name="capacity"/> from the pool (none for 0),
    /// the nodes in the same order and, in its own store, their events in slots 0 to Count - 1.
    /// </summary>
    private void Resize(int capacity)
    {
        var nodes = capacity == 0 ? [] : ArrayPool<Node>.Shared.Rent(capacity);
        if (_shared is not null)
        {
            // The events stay in their slots of the shared store: only the heap moves.
            _nodes.AsSpan(0, Count).CopyTo(nodes);
            Return();
            _nodes = nodes;
            return;
        }
        var slots = capacity == 0 ? [] : ArrayPool<SimEvent>.Shared.Rent(capacity);
        var free = capacity == 0 ? [] : ArrayPool<int>.Shared.Rent(capacity);
        for (var i = 0; i < Count; i++)
        {
            slots[i] = _slots[_nodes[i].Slot];
            nodes[i] = new Node(_nodes[i].Key, i);
        }
        Return();
        (_nodes, _slots, _free, _freeCount) = (nodes, slots, free, 0);
    }

    private void Return()
    {
        if (_nodes.Length == 0) return;
        ArrayPool<Node>.Shared.Return(_nodes);
        if (_shared is not null) return;
        ArrayPool<SimEvent>.Shared.Return(_slots);
        ArrayPool<int>.Shared.Return(_free);
    }

    private void MoveUp(Node node, int index)
    {
        var nodes = _nodes;
        while (index > 0)
        {
            var parentIndex = (index - 1) >> Log2Arity;
            var parent = nodes[parentIndex];
            if (node.Key.CompareTo(parent.Key) >= 0) break;
            nodes[index] = parent;
            index = parentIndex;
        }
        nodes[index] = node;
    }

    private void MoveDown(Node node, int index)
    {
        var nodes = _nodes;
        var size = Count;
        int i;
        while ((i = (index << Log2Arity) + 1) < size)
        {
            var minChild = nodes[i];
            var minChildIndex = i;
            var bound = Math.Min(i + (1 << Log2Arity), size);
            while (++i < bound)
            {
                if (nodes[i].Key.CompareTo(minChild.Key) >= 0) continue;
                minChild = nodes[i];
                minChildIndex = i;
            }
            if (node.Key.CompareTo(minChild.Key) <= 0) break;
            nodes[index] = minChild;
            index = minChildIndex;
        }
        nodes[index] = node;
    }
}
