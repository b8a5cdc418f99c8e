using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Shootdown.Model.Topology;

namespace Shootdown.Model.State;

/// <summary>
/// A value that writes its own fields, in a declared order, and is rebuilt from them by its
/// constructor (SST's <c>serialize_order</c>, one method per type): no reflection, no type named
/// by the bytes, nothing created uninitialised. The model stays free of Orleans; the grains carry
/// these values through one codec adapter that calls the same two methods.
/// </summary>
public interface IStateRecord<TSelf> where TSelf : IStateRecord<TSelf>
{
    void Write(StateWriter writer);

    static abstract TSelf Read(StateReader reader);
}

/// <summary>
/// The state contract's encoding: fixed-width little-endian numbers, a flag as one byte 0 or 1,
/// an enum as its int, a string as its UTF-8 length and bytes, a list as its count then its items,
/// a CPU mask as its CPU count and words, an event as its ten fields. <see cref="StateContract"/>
/// puts the contract's version in front. The bytes are written into one array, grown by
/// doubling; a writer reused (one per thread) touches no new memory.
/// </summary>
public sealed class StateWriter(int capacity = 256)
{
    private byte[] _buffer = new byte[Math.Max(capacity, 16)];
    private int _length;

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    /// <summary>The bytes written, as a view of the writer's own array: for a writer that is not written to again.</summary>
    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _length);

    public int Length => _length;

    /// <summary>How many bytes it can hold before it grows.</summary>
    public int Capacity => _buffer.Length;

    /// <summary>The bytes written, as a copy: the writer may be reused.</summary>
    public byte[] ToArray() => Written.ToArray();

    /// <summary>Starts again from nothing, keeping the buffer: a writer reused for many values touches no new memory.</summary>
    public void Clear() => _length = 0;

    /// <summary>
    /// Room for a fixed-size field of <paramref name="count"/> bytes, which a record lays out itself
    /// (an event, the most written value, takes one check for its ten fields).
    /// </summary>
    public Span<byte> Fixed(int count) => Take(count);

    private Span<byte> Take(int count)
    {
        if (_buffer.Length - _length < count) Array.Resize(ref _buffer, Math.Max(checked(_length + count), checked(_buffer.Length * 2)));
        var span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }

    public void Int(int value) => BinaryPrimitives.WriteInt32LittleEndian(Take(sizeof(int)), value);

    public void Long(long value) => BinaryPrimitives.WriteInt64LittleEndian(Take(sizeof(long)), value);

    public void ULong(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Take(sizeof(ulong)), value);

    public void Bool(bool value) => Take(1)[0] = value ? (byte)1 : (byte)0;

    public void Byte(byte value) => Take(1)[0] = value;

    /// <summary>Bytes as they are, with no count: a fixed-size field (a magic number, a MAC).</summary>
    public void Raw(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Take(bytes.Length));

    /// <summary>An enum of the model's (all are ints or bytes), as an int.</summary>
    public void Enum<T>(T value) where T : struct, Enum => Int(StateContract.EnumToInt(value));

    public void String(string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        Int(length);
        Encoding.UTF8.GetBytes(value, Take(length));
    }

    public void NullableString(string? value)
    {
        Bool(value is not null);
        if (value is not null) String(value);
    }

    public void NullableLong(long? value)
    {
        Bool(value is not null);
        if (value is { } v) Long(v);
    }

    /// <summary>Bytes as their count and themselves.</summary>
    public void Bytes(ReadOnlySpan<byte> bytes)
    {
        Int(bytes.Length);
        bytes.CopyTo(Take(bytes.Length));
    }

    public void Mask(CpuMask? mask)
    {
        Bool(mask is not null);
        if (mask is null) return;
        Words(mask.NrCpus, mask.Words);
    }

    /// <summary>A mask still being built (an mm's live cpumask, the CPUs an operation interrupted), as a mask.</summary>
    public void Mask(CpuMask.Builder? mask)
    {
        Bool(mask is not null);
        if (mask is null) return;
        Words(mask.NrCpus, mask.Words);
    }

    private void Words(int nrCpus, ReadOnlySpan<ulong> words)
    {
        Int(nrCpus);
        foreach (var word in words) ULong(word);
    }

    /// <summary>Ints as their count and themselves.</summary>
    public void Ints(ReadOnlySpan<int> values)
    {
        Int(values.Length);
        foreach (var v in values) Int(v);
    }

    public void Items<T>(ReadOnlySpan<T> items) where T : IStateRecord<T>
    {
        Int(items.Length);
        foreach (var item in items) item.Write(this);
    }

    public void Items<T>(List<T> items) where T : IStateRecord<T> => Items<T>(CollectionsMarshal.AsSpan(items));

    /// <summary>What a mask weighs once written: its presence flag, CPU count and words.</summary>
    public static int MaskSize(CpuMask mask) => 1 + sizeof(int) + mask.Words.Length * sizeof(ulong);
}
