using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Shootdown.Model.Simulation;

namespace Shootdown.Engine.Queues;

/// <summary>
/// Pending events in their total order, (time, kind, source, seq), for one thread whose clock only
/// moves forward: a radix heap on the time (Ahuja, Mehlhorn, Orlin and Tarjan, "Faster algorithms
/// for the shortest path problem", JACM 1990) with 8-bit digits, whose lowest bucket, the events at
/// the clock's own time, is sorted on the rest of the key.
/// <para>
/// Why not a heap of every pending event: a storm on 8192 CPUs keeps two million answers in flight,
/// spread over the 300 µs of a deep-idle exit, and a heap that size misses the cache at every level
/// of every pop. Here an event's entry only moves to a lower level, in sequential passes, and the
/// event itself is written once into a slot of <see cref="EventSlots"/> and handled where it lies.
/// .NET's <see cref="PriorityQueue{TElement, TPriority}"/> is such a heap, and no maintained library
/// offers a monotone queue, so this is written here.
/// </para>
/// <para>
/// A time that differs from the clock first in digit <c>l</c> (bits <c>8l</c> to <c>8l + 7</c>)
/// waits in level <c>l</c>, in the bucket of its own digit there. The earliest pending time is in
/// the first non-empty bucket of the lowest non-empty level. Taking an event when none is at the
/// clock's time moves the clock there and spreads that bucket over the lower levels: each entry
/// moves at most once per digit of its distance from the clock, three times for 300 µs.
/// </para>
/// </summary>
public sealed class RadixEventQueue
{
    private const int DigitBits = 8, Digits = 1 << DigitBits, Levels = 64 / DigitBits;
    private const int PrefetchAhead = 2;
    private readonly EventSlots _slots = new();
    private readonly BlockPools _blocks = new();
    private readonly Bucket?[] _buckets = new Bucket?[Levels * Digits];
    /// <summary>Which buckets hold entries, a bit per bucket, bucket by bucket as in <see cref="_buckets"/>.</summary>
    private readonly ulong[] _occupied = new ulong[Levels * Digits / 64];
    /// <summary>
    /// The entries at the clock's time that the last spreading found, sorted; those before
    /// <see cref="_nowNext"/> are taken. They share the time, so they are kept as the rest of
    /// their keys (<see cref="EventKey.WithinTime"/>) beside their slots: sorting plain words
    /// compares them inline, where sorting entries calls a comparer per comparison.
    /// </summary>
    private ulong[] _nowOrder = new ulong[16];
    private int[] _nowSlot = new int[16];
    private int _nowNext, _nowCount;
    /// <summary>Entries added at the clock's time since: an event sent for the very time it is handled at.</summary>
    private readonly PriorityQueue<Entry, EventKey> _late = new();
    private long _clock;

    /// <summary>How many events are pending.</summary>
    public int Count { get; private set; }

    /// <summary>Adds <paramref name="e"/>, which may not be earlier than the last event taken.</summary>
    public void Add(in SimEvent e)
    {
        if (e.Time < _clock) throw new InvalidOperationException($"{e.Kind} for {e.Target} at {e.Time} ns is earlier than the queue's clock, {_clock} ns");
        var entry = new Entry(e.Key, _slots.Put(e));
        if (e.Time == _clock) _late.Enqueue(entry, entry.Key);
        else AddLater(entry);
        Count++;
    }

    /// <summary>The time of the earliest pending event, when there is one.</summary>
    public bool TryPeekTime(out long time)
    {
        if (_nowNext == _nowCount && _late.Count == 0 && Count > 0) Advance();
        time = _clock;
        return Count > 0;
    }

    /// <summary>
    /// The earliest pending event, read where it lies: its slot is <paramref name="slot"/>, which
    /// the caller hands back with <see cref="Release"/> once it is done reading (handling may add
    /// events meanwhile; they never reuse a slot not yet released).
    /// </summary>
    public ref readonly SimEvent Take(out int slot)
    {
        if (!TryPeekTime(out _)) throw new InvalidOperationException("no event is pending");
        slot = TakeNow();
        Count--;
        return ref _slots[slot];
    }

    public void Release(int slot) => _slots.Free(slot);

    /// <summary>Files an entry later than the clock in its level's bucket for its digit there.</summary>
    private void AddLater(in Entry entry)
    {
        var time = entry.Key.Time;
        var level = BitOperations.Log2((ulong)(time ^ _clock)) / DigitBits;
        var index = level * Digits + (int)(((ulong)time >> (level * DigitBits)) & (Digits - 1));
        var bucket = _buckets[index] ??= new Bucket(_blocks);
        if (bucket.Count == 0) _occupied[index >> 6] |= 1UL << index;
        bucket.Add(entry);
    }

    /// <summary>
    /// Starts loading the event in <paramref name="slot"/> into the cache, a couple of events before
    /// it is taken. Its slot was written when it was sent, tens of microseconds of a storm and
    /// hundreds of thousands of events earlier, somewhere in a hundred megabytes of slots: read only
    /// when taken, it missed the cache at nearly every event (a fifth of the storm's time, in
    /// <c>perf</c>). The chunks are pinned, so the address stays good.
    /// </summary>
    private unsafe void Prefetch(int slot)
    {
        if (Sse.IsSupported) Sse.Prefetch0(Unsafe.AsPointer(ref _slots[slot]));
    }

    /// <summary>Moves the clock to the earliest pending time and spreads that time's bucket below it.</summary>
    private void Advance()
    {
        var word = 0;
        while (_occupied[word] == 0) word++;
        var index = word * 64 + BitOperations.TrailingZeroCount(_occupied[word]);
        _occupied[word] &= _occupied[word] - 1;
        var bucket = _buckets[index]!;
        var earliest = long.MaxValue;
        _nowNext = _nowCount = 0;
        for (var b = 0; b < bucket.Blocks; b++)
            foreach (ref readonly var entry in bucket.Block(b)) earliest = Math.Min(earliest, entry.Key.Time);
        _clock = earliest;
        for (var b = 0; b < bucket.Blocks; b++)
        {
            foreach (ref readonly var entry in bucket.Block(b))
            {
                if (entry.Key.Time == earliest) AddNow(entry);
                else AddLater(entry);
            }
            // The lower levels may take this block for what comes next: it has been read.
            bucket.Release(b);
        }
        bucket.Clear();
        _nowOrder.AsSpan(0, _nowCount).Sort(_nowSlot.AsSpan(0, _nowCount));
        for (var i = 0; i < Math.Min(_nowCount, PrefetchAhead); i++) Prefetch(_nowSlot[i]);
    }

    private void AddNow(in Entry entry)
    {
        if (_nowCount == _nowOrder.Length)
        {
            Array.Resize(ref _nowOrder, _nowCount * 2);
            Array.Resize(ref _nowSlot, _nowCount * 2);
        }
        _nowOrder[_nowCount] = entry.Key.WithinTime;
        _nowSlot[_nowCount++] = entry.Slot;
    }

    /// <summary>The slot of the earliest entry at the clock's time: the next sorted one, unless one added since is earlier.</summary>
    private int TakeNow()
    {
        if (_late.TryPeek(out _, out var lateKey) && (_nowNext == _nowCount || lateKey.WithinTime < _nowOrder[_nowNext])) return _late.Dequeue().Slot;
        if (_nowNext + PrefetchAhead < _nowCount) Prefetch(_nowSlot[_nowNext + PrefetchAhead]);
        return _nowSlot[_nowNext++];
    }

    /// <summary>An event's key beside the slot that holds it: 24 bytes to move, not 64.</summary>
    private readonly record struct Entry(EventKey Key, int Slot);

    /// <summary>
    /// A bucket: entries in blocks from the queue's own pools, each block given back as soon as the
    /// bucket's spreading has read it. A bucket that held two million entries once would otherwise
    /// keep their array for good, and a storm fills most buckets in turn. Blocks double from
    /// <see cref="BlockPools.Smallest"/> entries, as a small run fills hundreds of buckets with a
    /// few entries each, up to <see cref="BlockPools.Largest"/>. A block is pinned, so the collector
    /// never copies it, and is not zeroed: only what was added is read.
    /// </summary>
    private sealed class Bucket(BlockPools pools)
    {
        private readonly List<Entry[]> _blocks = [];
        /// <summary>The last block, which adds fill (empty while there is none): the list is not read per entry.</summary>
        private Entry[] _filling = [];
        private int _tail;

        public int Count { get; private set; }

        public void Add(in Entry entry)
        {
            if (_tail == _filling.Length)
            {
                _filling = pools.Rent(_blocks.Count);
                _blocks.Add(_filling);
                _tail = 0;
            }
            _filling[_tail++] = entry;
            Count++;
        }

        /// <summary>The entries of block <paramref name="index"/>, in the order added.</summary>
        public ReadOnlySpan<Entry> Block(int index) => _blocks[index].AsSpan(0, index == _blocks.Count - 1 ? _tail : _blocks[index].Length);

        public int Blocks => _blocks.Count;

        /// <summary>Gives block <paramref name="index"/> back: the caller has read it and is emptying the bucket.</summary>
        public void Release(int index) => pools.Return(_blocks[index]);

        /// <summary>Empties the bucket, whose blocks have all been released.</summary>
        public void Clear()
        {
            _blocks.Clear();
            _filling = [];
            Count = _tail = 0;
        }
    }

    /// <summary>Free blocks by size, a pool per power of two from <see cref="Smallest"/> to <see cref="Largest"/> entries.</summary>
    private sealed class BlockPools
    {
        public const int Smallest = 16, Largest = 1024;
        private static readonly int Sizes = BitOperations.Log2(Largest / Smallest) + 1;
        private readonly Stack<Entry[]>[] _free = Enumerable.Range(0, Sizes).Select(_ => new Stack<Entry[]>()).ToArray();

        /// <summary>A block for a bucket's <paramref name="ordinal"/>-th block.</summary>
        public Entry[] Rent(int ordinal)
        {
            var size = Math.Min(ordinal, Sizes - 1);
            return _free[size].TryPop(out var block) ? block : GC.AllocateUninitializedArray<Entry>(Smallest << size, pinned: true);
        }

        public void Return(Entry[] block) => _free[BitOperations.Log2((uint)(block.Length / Smallest))].Push(block);
    }
}
