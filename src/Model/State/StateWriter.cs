using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
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
/// a CPU mask as its CPU count and words. <see cref="StateContract"/> puts the contract's version
/// in front.
/// </summary>
public sealed class StateWriter(int capacity = 256)
{
    private readonly ArrayBufferWriter<byte> _buffer = new(capacity);

    public ReadOnlySpan<byte> Written => _buffer.WrittenSpan;

    public void Int(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.GetSpan(sizeof(int)), value);
        _buffer.Advance(sizeof(int));
    }

    public void Long(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.GetSpan(sizeof(long)), value);
        _buffer.Advance(sizeof(long));
    }

    private void ULong(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.GetSpan(sizeof(ulong)), value);
        _buffer.Advance(sizeof(ulong));
    }

    public void Bool(bool value)
    {
        _buffer.GetSpan(1)[0] = value ? (byte)1 : (byte)0;
        _buffer.Advance(1);
    }

    /// <summary>An enum of the model's, all of which are ints.</summary>
    public void Enum<T>(T value) where T : struct, Enum
    {
        StateContract.EnsureIntEnum<T>();
        Int(Unsafe.As<T, int>(ref value));
    }

    public void String(string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        Int(length);
        Encoding.UTF8.GetBytes(value, _buffer.GetSpan(length));
        _buffer.Advance(length);
    }

    public void Mask(CpuMask? mask)
    {
        Bool(mask is not null);
        if (mask is null) return;
        Int(mask.NrCpus);
        foreach (var word in mask.Words) ULong(word);
    }

    public void Items<T>(IReadOnlyCollection<T> items) where T : IStateRecord<T>
    {
        Int(items.Count);
        foreach (var item in items) item.Write(this);
    }
}
