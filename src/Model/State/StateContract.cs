using System.Runtime.CompilerServices;

namespace Shootdown.Model.State;

/// <summary>
/// A value in the state contract's encoding, as it crosses between grains: the contract's
/// version, then the value's fields. A value of another version is refused, not guessed at.
/// </summary>
public static class StateContract
{
    /// <summary>Raised whenever a type's fields or their order change.</summary>
    public const int Version = 1;

    public static byte[] Encode<T>(T value) where T : IStateRecord<T>
    {
        var writer = new StateWriter();
        writer.Int(Version);
        value.Write(writer);
        return writer.Written.ToArray();
    }

    public static T Decode<T>(ReadOnlyMemory<byte> bytes) where T : IStateRecord<T>
    {
        var reader = new StateReader(bytes);
        var version = reader.Int();
        if (version != Version) throw new InvalidDataException($"a {typeof(T).Name} in state contract version {version}; this build reads {Version}");
        var value = T.Read(reader);
        reader.End();
        return value;
    }

    internal static void EnsureIntEnum<T>() where T : struct, Enum
    {
        if (Unsafe.SizeOf<T>() != sizeof(int)) throw new NotSupportedException($"{typeof(T).Name} is not an int enum");
    }
}
