using System.Numerics;
using Shootdown.Model.Simulation;

namespace Shootdown.Engine.Queues;

/// <summary>
/// Events in numbered slots, in chunks that never move, so that a reference to a slot stays good
/// while more are added; freed slots are reused first. A storm's millions of one-event sends then
/// cost no allocation and no garbage collection. The reference engine's queue keeps its events
/// here, and so do the queues of a partition's entities in process (<see cref="EntityEventQueue"/>).
/// <para>
/// Chunk <c>k</c> holds <c>256 · 2^k</c> slots, so a small run takes one 16 KiB chunk and a storm's
/// two million pending events about fourteen chunks. Few chunks matter: reaching a slot reads its
/// chunk's header (the null and length checks), and with thousands of equal chunks that header
/// missed the cache at nearly every event taken (a seventh of the storm's time); fourteen stay in
/// the cache. A chunk is allocated uninitialised, so its pages cost memory only once slots reach them.
/// </para>
/// </summary>
public sealed class EventSlots
{
    private const int FirstChunkBits = 8;
    private readonly SimEvent[][] _chunks = new SimEvent[32 - FirstChunkBits][];
    private int _used;
    private int[] _free = new int[64];
    private int _freeCount;

    public ref SimEvent this[int slot]
    {
        get
        {
            var chunk = ChunkOf(slot);
            // Slots before chunk k number 256 · (2^k − 1).
            return ref _chunks[chunk][slot - ((1 << (chunk + FirstChunkBits)) - (1 << FirstChunkBits))];
        }
    }

    private static int ChunkOf(int slot) => BitOperations.Log2((uint)(slot >> FirstChunkBits) + 1);

    public int Put(in SimEvent e)
    {
        int slot;
        if (_freeCount > 0) slot = _free[--_freeCount];
        else
        {
            slot = _used++;
            var chunk = ChunkOf(slot);
            _chunks[chunk] ??= GC.AllocateUninitializedArray<SimEvent>(1 << (chunk + FirstChunkBits), pinned: true);
        }
        this[slot] = e;
        return slot;
    }

    public void Free(int slot)
    {
        if (_freeCount == _free.Length) Array.Resize(ref _free, _freeCount * 2);
        _free[_freeCount++] = slot;
    }
}
