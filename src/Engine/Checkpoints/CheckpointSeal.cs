using System.Buffers.Binary;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Shootdown.Model.State;

namespace Shootdown.Engine.Checkpoints;

/// <summary>Which part of which checkpoint a sealed part says it is.</summary>
public readonly record struct CheckpointIdentity(string RunKey, int Number, int Partition)
{
    public override string ToString() => $"{RunKey} #{Number} part {Partition}";
}

/// <summary>A stored checkpoint part that must not be restored, and why, in one line.</summary>
public sealed class CheckpointRefusedException(string message) : Exception(message);

/// <summary>
/// The envelope every checkpoint part is stored in, so that a part is restored only if it is
/// the one asked for, whole, unchanged, and written by this build:
/// <c>"SDCK" | format version | build | run key | number | partition | payload length | payload | HMAC-SHA256</c>,
/// the HMAC over everything before it. Without it a flipped bit in a stored part resumed a run to
/// a wrong digest, silently, and a truncated one ended the client with a stack trace. The key is
/// the cluster's (<see cref="CheckpointKey"/>): a part that anyone else wrote, or that was
/// changed, fails the check. Parts are read in full before anything in them is decoded.
/// </summary>
public static class CheckpointSeal
{
    private static ReadOnlySpan<byte> Magic => "SDCK"u8;

    /// <summary>The envelope's layout; a part of another version is refused, not guessed at.</summary>
    public const int FormatVersion = 1;

    /// <summary>The build that writes and reads parts: the codec's layout is this build's, so another build's part is refused.</summary>
    public static readonly string Build =
        typeof(CheckpointSeal).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>A payload already in bytes, sealed as <paramref name="build"/> would (tests stand in for another build), in one array.</summary>
    public static byte[] Seal(byte[] payload, CheckpointIdentity id, byte[] key, string? build = null) =>
        Seal(id, key, [payload], build).ToArray();

    /// <summary>
    /// Seals the payload given in segments: header, the segments as they are, HMAC. Parts run to
    /// hundreds of megabytes, most of them entity states that arrive as arrays of their own; a
    /// payload copied into one array would be one more of them in memory at once.
    /// </summary>
    public static SealedPart Seal(CheckpointIdentity id, byte[] key, IReadOnlyList<ReadOnlyMemory<byte>> payload, string? build = null)
    {
        var payloadSize = 0L;
        foreach (var segment in payload) payloadSize += segment.Length;
        var header = new StateWriter(256);
        header.Raw(Magic);
        header.Int(FormatVersion);
        header.String(build ?? Build);
        header.String(id.RunKey);
        header.Int(id.Number);
        header.Int(id.Partition);
        header.Int(checked((int)payloadSize));
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        hmac.AppendData(header.Written);
        foreach (var segment in payload) hmac.AppendData(segment.Span);
        var tag = hmac.GetHashAndReset();
        return new SealedPart([header.WrittenMemory, .. payload, tag]);
    }

    private const int TagLength = 32;

    /// <summary>
    /// The payload of <paramref name="part"/> (a view of it, not a copy), if it is the part
    /// <paramref name="id"/> names, intact and this build's; else a <see cref="CheckpointRefusedException"/>.
    /// </summary>
    public static ReadOnlyMemory<byte> Open(byte[] part, CheckpointIdentity id, ReadOnlySpan<byte> key)
    {
        string Refused(string why) => $"checkpoint part {id} refused: {why}";
        if (part.Length < Magic.Length + 4 + TagLength || !part.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new CheckpointRefusedException(Refused("not a Shootdown checkpoint part (no header)"));
        var body = part.AsSpan(0, part.Length - TagLength);
        if (!CryptographicOperations.FixedTimeEquals(HMACSHA256.HashData(key, body), part.AsSpan(part.Length - TagLength)))
            throw new CheckpointRefusedException(Refused("its integrity check fails (changed, truncated, or written with another cluster's key)"));
        var at = Magic.Length;
        var version = ReadInt(body, ref at);
        if (version != FormatVersion) throw new CheckpointRefusedException(Refused($"format version {version}, this build reads {FormatVersion}"));
        var build = ReadString(body, ref at);
        if (build != Build) throw new CheckpointRefusedException(Refused($"written by build {build}, this is {Build}"));
        var stored = new CheckpointIdentity(ReadString(body, ref at), ReadInt(body, ref at), ReadInt(body, ref at));
        if (stored != id) throw new CheckpointRefusedException(Refused($"it holds {stored}"));
        var length = ReadInt(body, ref at);
        if (length != body.Length - at) throw new CheckpointRefusedException(Refused("its length field does not match"));
        return part.AsMemory(at, length);
    }

    private static int ReadInt(ReadOnlySpan<byte> b, ref int at)
    {
        if (at + 4 > b.Length) throw new CheckpointRefusedException("checkpoint part header is cut short");
        var v = BinaryPrimitives.ReadInt32LittleEndian(b[at..]);
        at += 4;
        return v;
    }

    private static string ReadString(ReadOnlySpan<byte> b, ref int at)
    {
        var length = ReadInt(b, ref at);
        if (length < 0 || at + length > b.Length) throw new CheckpointRefusedException("checkpoint part header is cut short");
        var v = Encoding.UTF8.GetString(b.Slice(at, length));
        at += length;
        return v;
    }
}

/// <summary>
/// A sealed part as written: its bytes in order, in segments (the envelope's header, the
/// payload's pieces, the HMAC). A store keeps them as they are, or writes them out piece by piece.
/// </summary>
public sealed class SealedPart(IReadOnlyList<ReadOnlyMemory<byte>> segments)
{
    public IReadOnlyList<ReadOnlyMemory<byte>> Segments => segments;

    public long Length { get; } = segments.Sum(s => (long)s.Length);

    /// <summary>Bytes <paramref name="start"/> onwards, as many as <paramref name="destination"/> holds.</summary>
    public void CopyTo(long start, Span<byte> destination)
    {
        foreach (var segment in segments)
        {
            if (destination.IsEmpty) return;
            if (start >= segment.Length)
            {
                start -= segment.Length;
                continue;
            }
            var piece = segment.Span[(int)start..];
            var n = Math.Min(piece.Length, destination.Length);
            piece[..n].CopyTo(destination);
            destination = destination[n..];
            start = 0;
        }
        if (!destination.IsEmpty) throw new ArgumentOutOfRangeException(nameof(destination), "the part ends before the bytes asked for");
    }

    /// <summary>The part in one array, as <see cref="CheckpointSeal.Open"/> reads it.</summary>
    public byte[] ToArray()
    {
        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)Length));
        CopyTo(0, bytes);
        return bytes;
    }
}

/// <summary>
/// The key a cluster's silos seal checkpoint parts with. Silos in one process (the CLI's
/// embedded cluster, tests) share a random key made when the process starts, so nothing outside
/// it can write a part they accept. Silos in separate processes must share one: each is given
/// the same key file (<c>shootdown-silo --checkpoint-key FILE</c>); without one, a cluster of
/// several processes derives it from its cluster id, which detects corruption but not a writer
/// who knows the id, and the silo says so when it starts.
/// </summary>
public sealed class CheckpointKey(byte[] key)
{
    /// <summary>This process's own key.</summary>
    public static readonly CheckpointKey Process = new(RandomNumberGenerator.GetBytes(32));

    public byte[] Bytes { get; } = key;

    /// <summary>Read from a file of at least 32 bytes (say, <c>head -c 32 /dev/urandom</c>).</summary>
    public static CheckpointKey FromFile(string path)
    {
        var bytes = File.ReadAllBytes(path);
        return bytes.Length >= 32 ? new CheckpointKey(bytes) : throw new InvalidDataException($"{path} holds {bytes.Length} bytes; a checkpoint key needs at least 32");
    }

    /// <summary>The fallback for silos in several processes that were given no key file.</summary>
    public static CheckpointKey FromClusterId(string clusterId) => new(SHA256.HashData(Encoding.UTF8.GetBytes($"shootdown checkpoint key/{clusterId}")));
}
