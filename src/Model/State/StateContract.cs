using System.Runtime.CompilerServices;

namespace Shootdown.Model.State;

/// <summary>
/// A value in the state contract's encoding, as it crosses between grains or lies in a
/// checkpoint: the contract's version, then the value's fields. A value of another version is
/// refused, not guessed at.
/// </summary>
public static class StateContract
{
    /// <summary>
    /// Raised whenever a type's fields or their order change. 2: entity states and events joined
    /// the contract. 3: a call in flight writes its targets as a mask where that is smaller, and
    /// unlock times only for the targets that unlocked. 4: a CPU's RCU grace period (RcuTree).
    /// 5: a CPU's IPIs received (CpuStats, CpuCounters). 6: a csd says whether khugepaged sent it (Csd).
    /// 7: an entity's step carries its wake latency (EntityWindow), a partition's report what its
    /// frontier owes to wake latencies (PartitionReport, WakingBounds).
    /// </summary>
    public const int Version = 7;

    public static byte[] Encode<T>(T value) where T : IStateRecord<T>
    {
        var writer = Begin();
        value.Write(writer);
        return writer.ToArray();
    }

    public static T Decode<T>(ReadOnlyMemory<byte> bytes) where T : IStateRecord<T>
    {
        var reader = Open(bytes, typeof(T).Name);
        var value = T.Read(reader);
        reader.End();
        return value;
    }

    /// <summary>A writer with the version in front, for a value that writes itself into it.</summary>
    public static StateWriter Begin(int capacity = 256) => Begin(new StateWriter(capacity));

    /// <summary><paramref name="writer"/> emptied, with the version in front.</summary>
    public static StateWriter Begin(StateWriter writer)
    {
        writer.Clear();
        writer.Int(Version);
        return writer;
    }

    /// <summary>A reader past the version, which must be this build's; <paramref name="what"/> names the value in the refusal.</summary>
    public static StateReader Open(ReadOnlyMemory<byte> bytes, string what)
    {
        var reader = new StateReader(bytes);
        var version = reader.Int();
        return version == Version ? reader : throw new InvalidDataException($"a {what} in state contract version {version}; this build reads {Version}");
    }

    internal static int EnumToInt<T>(T value) where T : struct, Enum => Unsafe.SizeOf<T>() switch
    {
        sizeof(byte) => Unsafe.As<T, byte>(ref value),
        sizeof(int) => Unsafe.As<T, int>(ref value),
        _ => throw new NotSupportedException($"{typeof(T).Name} is neither a byte nor an int enum"),
    };

    internal static bool TryIntToEnum<T>(int raw, out T value) where T : struct, Enum
    {
        switch (Unsafe.SizeOf<T>())
        {
            case sizeof(byte):
                var b = (byte)raw;
                value = Unsafe.As<byte, T>(ref b);
                return raw == b && System.Enum.IsDefined(value);
            case sizeof(int):
                value = Unsafe.As<int, T>(ref raw);
                return System.Enum.IsDefined(value);
            default:
                throw new NotSupportedException($"{typeof(T).Name} is neither a byte nor an int enum");
        }
    }
}
