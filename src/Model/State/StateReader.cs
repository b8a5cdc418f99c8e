using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;
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

    private ReadOnlySpan<byte> Take(int count, string what)
    {
        if (count > Left) throw Invalid($"{what} needs {count} bytes, {Left} are left");
        var taken = bytes.Span.Slice(_at, count);
        _at += count;
        return taken;
    }

    private InvalidDataException Invalid(string why) => new($"state at byte {_at} of {bytes.Length}: {why}");

    public int Int() => BinaryPrimitives.ReadInt32LittleEndian(Take(sizeof(int), "an int"));

    public long Long() => BinaryPrimitives.ReadInt64LittleEndian(Take(sizeof(long), "a long"));

    private ulong ULong() => BinaryPrimitives.ReadUInt64LittleEndian(Take(sizeof(ulong), "a word"));

    public bool Bool() => Take(1, "a flag")[0] switch
    {
        0 => false,
        1 => true,
        var other => throw Invalid($"a flag reads {other}, not 0 or 1"),
    };

    public T Enum<T>() where T : struct, Enum
    {
        StateContract.EnsureIntEnum<T>();
        var raw = Int();
        var value = Unsafe.As<int, T>(ref raw);
        return System.Enum.IsDefined(value) ? value : throw Invalid($"{raw} is not a {typeof(T).Name}");
    }

    /// <summary>A count of items or bytes still to come: never more than the bytes left, as every item takes at least one.</summary>
    private int Count(string what)
    {
        var count = Int();
        return count >= 0 && count <= Left ? count : throw Invalid($"{what} of {count}, with {Left} bytes left");
    }

    public string String() => Encoding.UTF8.GetString(Take(Count("a string"), "a string"));

    public CpuMask? Mask()
    {
        if (!Bool()) return null;
        var nrCpus = Int();
        if (nrCpus < 0 || CpuMask.WordCount(nrCpus) * sizeof(ulong) > Left) throw Invalid($"a mask of {nrCpus} CPUs, with {Left} bytes left");
        var words = new ulong[CpuMask.WordCount(nrCpus)];
        for (var i = 0; i < words.Length; i++) words[i] = ULong();
        return CpuMask.FromWords(nrCpus, words);
    }

    public ImmutableArray<T> Items<T>() where T : IStateRecord<T>
    {
        var count = Count("a list");
        var items = ImmutableArray.CreateBuilder<T>(count);
        for (var i = 0; i < count; i++) items.Add(T.Read(this));
        return items.MoveToImmutable();
    }

    /// <summary>The value ended where the bytes do.</summary>
    public void End()
    {
        if (Left != 0) throw Invalid($"{Left} bytes left over after the value");
    }
}
