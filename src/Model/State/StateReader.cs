using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Text;
using Shootdown.Model.Topology;

namespace Shootdown.Model.State;

/// <summary>
/// Reads what <see cref="StateWriter"/> wrote, checking as it goes: bytes cut short, a flag that
/// is neither 0 nor 1, an enum value the model does not declare, a count larger than the bytes
/// left (so a changed count cannot make it allocate without bound) or a mask of the wrong size is
/// an <see cref="InvalidDataException"/> that says which and where, never a wrong value.
/// </summary>
public sealed class StateReader(ReadOnlyMemory<byte> bytes)
{
    private int _at;

    private int Left => bytes.Length - _at;

    /// <summary>A fixed-size field of <paramref name="count"/> bytes, which a record lays out itself; <paramref name="what"/> names it if the bytes end first.</summary>
    public ReadOnlySpan<byte> Fixed(int count, string what) => Take(count, what);

    /// <summary>How many bytes are left to read.</summary>
    public int Remaining => Left;

    private ReadOnlySpan<byte> Take(int count, string what)
    {
        if (count > Left) throw Invalid($"{what} needs {count} bytes, {Left} are left");
        var taken = bytes.Span.Slice(_at, count);
        _at += count;
        return taken;
    }

    /// <summary>Refuses what was read, naming where: for checks only the reader's caller can make (a field that contradicts another).</summary>
    public InvalidDataException Invalid(string why) => new($"state at byte {_at} of {bytes.Length}: {why}");

    public int Int() => BinaryPrimitives.ReadInt32LittleEndian(Take(sizeof(int), "an int"));

    public long Long() => BinaryPrimitives.ReadInt64LittleEndian(Take(sizeof(long), "a long"));

    public ulong ULong() => BinaryPrimitives.ReadUInt64LittleEndian(Take(sizeof(ulong), "a word"));

    public byte Byte() => Take(1, "a byte")[0];

    public bool Bool() => Take(1, "a flag")[0] switch
    {
        0 => false,
        1 => true,
        var other => throw Invalid($"a flag reads {other}, not 0 or 1"),
    };

    public T Enum<T>() where T : struct, Enum
    {
        var raw = Int();
        return StateContract.TryIntToEnum<T>(raw, out var value) ? value : throw Invalid($"{raw} is not a {typeof(T).Name}");
    }

    /// <summary>A count of items or bytes still to come: never more than the bytes left, as every item takes at least one.</summary>
    public int Count(string what)
    {
        var count = Int();
        return count >= 0 && count <= Left ? count : throw Invalid($"{what} of {count}, with {Left} bytes left");
    }

    public string String() => Encoding.UTF8.GetString(Take(Count("a string"), "a string"));

    public string? NullableString() => Bool() ? String() : null;

    public long? NullableLong() => Bool() ? Long() : null;

    /// <summary>Bytes written with their count, as a view of what is read, not a copy.</summary>
    public ReadOnlyMemory<byte> Bytes() => Raw(Count("bytes"));

    /// <summary><paramref name="count"/> bytes written with no count (<see cref="StateWriter.Raw"/>), as a view.</summary>
    public ReadOnlyMemory<byte> Raw(int count)
    {
        if (count < 0) throw Invalid($"{count} bytes");
        Take(count, "bytes");
        return bytes.Slice(_at - count, count);
    }

    public CpuMask? Mask()
    {
        if (!Bool()) return null;
        var words = MaskWords(out var nrCpus);
        return CpuMask.FromWords(nrCpus, words);
    }

    /// <summary>A mask written from a builder, into a builder of <paramref name="nrCpus"/> CPUs.</summary>
    public CpuMask.Builder? MaskBuilder(int nrCpus)
    {
        if (!Bool()) return null;
        var builder = new CpuMask.Builder(nrCpus);
        LoadMask(builder);
        return builder;
    }

    /// <summary>Reads a mask written from a builder into <paramref name="into"/>, which must be there.</summary>
    public void MaskInto(CpuMask.Builder into)
    {
        if (!Bool()) throw Invalid("a missing mask where one must be");
        LoadMask(into);
    }

    private void LoadMask(CpuMask.Builder into)
    {
        var words = MaskWords(out var nrCpus);
        if (nrCpus != into.NrCpus) throw Invalid($"a mask of {nrCpus} CPUs where the machine has {into.NrCpus}");
        into.Load(words);
    }

    private ulong[] MaskWords(out int nrCpus)
    {
        nrCpus = Int();
        if (nrCpus < 0 || CpuMask.WordCount(nrCpus) * sizeof(ulong) > Left) throw Invalid($"a mask of {nrCpus} CPUs, with {Left} bytes left");
        var words = new ulong[CpuMask.WordCount(nrCpus)];
        for (var i = 0; i < words.Length; i++) words[i] = ULong();
        return words;
    }

    public int[] Ints()
    {
        var values = new int[Count("a list of ints")];
        for (var i = 0; i < values.Length; i++) values[i] = Int();
        return values;
    }

    public ImmutableArray<T> Items<T>() where T : IStateRecord<T>
    {
        var count = Count("a list");
        var items = ImmutableArray.CreateBuilder<T>(count);
        for (var i = 0; i < count; i++) items.Add(T.Read(this));
        return items.MoveToImmutable();
    }

    /// <summary>Reads a list into <paramref name="into"/>, which is emptied first.</summary>
    public void ItemsInto<T>(List<T> into) where T : IStateRecord<T>
    {
        var count = Count("a list");
        into.Clear();
        into.EnsureCapacity(count);
        for (var i = 0; i < count; i++) into.Add(T.Read(this));
    }

    /// <summary>The value ended where the bytes do.</summary>
    public void End()
    {
        if (Left != 0) throw Invalid($"{Left} bytes left over after the value");
    }
}
