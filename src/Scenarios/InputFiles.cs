using System.Runtime.InteropServices;
using System.Text;

namespace Shootdown.Scenarios;

/// <summary>
/// Reads an input file (scenario, include, topology, trace) with a bounded reader: regular files
/// only, refused before opening if they are a directory, a FIFO, a device or a socket (opening a
/// FIFO would block until a writer came; a device never ends), and a byte cap enforced while
/// reading rather than trusted from the length (which is 0 for special files). The one exception
/// is asked for by name: <see cref="StandardInput"/> (<c>-</c>) reads standard input, a pipe as
/// often as not, under the same cap. Problems go to <c>fail</c>, which locates them: at the file
/// itself, or at the field that named it.
/// </summary>
public static class InputFiles
{
    /// <summary>The name that reads standard input, as command-line tools take it.</summary>
    public const string StandardInput = "-";

    /// <param name="what">What the file is, for the size message: "a scenario", "a topology file".</param>
    public static string ReadText(string path, long maxBytes, string what, Func<string, ScenarioException> fail)
    {
        using var stream = OpenRegular(path, maxBytes, what, fail);
        var bytes = new MemoryStream();
        try
        {
            stream.CopyTo(bytes);
        }
        catch (IOException e)
        {
            throw fail(e.Message);
        }
        // As File.ReadAllText: UTF-8 unless a byte order mark says otherwise.
        bytes.Position = 0;
        using var reader = new StreamReader(bytes, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    /// <summary>The file's lines, read as they are consumed, with the byte cap enforced as they are read.</summary>
    public static IEnumerable<string> ReadLines(string path, long maxBytes, string what, Func<string, ScenarioException> fail)
    {
        var stream = OpenRegular(path, maxBytes, what, fail);
        return Lines(stream, fail);
    }

    private static IEnumerable<string> Lines(Stream stream, Func<string, ScenarioException> fail)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        while (true)
        {
            string? line;
            try
            {
                line = reader.ReadLine();
            }
            catch (IOException e)
            {
                throw fail(e.Message);
            }
            if (line is null) yield break;
            yield return line;
        }
    }

    /// <summary>A problem with the file as a whole: line and column 0.</summary>
    public static Func<string, ScenarioException> AtFile(string path) => problem => new ScenarioException(path, 0, 0, "(file)", problem);

    private static Stream OpenRegular(string path, long maxBytes, string what, Func<string, ScenarioException> fail)
    {
        if (path == StandardInput) return new CappedStream(Console.OpenStandardInput(), maxBytes, () => fail(TooLarge(null, maxBytes, what)));
        if (Directory.Exists(path)) throw fail("is a directory, not a file");
        if (!File.Exists(path)) throw fail("no such file");
        if (UnixFileKind.Of(path) is { } kind and not UnixFileKind.Kind.Regular)
            throw fail($"is a {UnixFileKind.Describe(kind)}, not a regular file");
        var length = new FileInfo(path).Length;
        if (length > maxBytes) throw fail(TooLarge(length, maxBytes, what));
        try
        {
            return new CappedStream(File.OpenRead(path), maxBytes, () => fail(TooLarge(null, maxBytes, what)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw fail(e.Message);
        }
    }

    private static string TooLarge(long? length, long maxBytes, string what) => length is { } n
        ? $"{n:N0} bytes is larger than the {maxBytes:N0}-byte limit for {what}"
        : $"larger than the {maxBytes:N0}-byte limit for {what}";

    /// <summary>A read-only stream that refuses to go past a byte cap, whatever the file's length said.</summary>
    private sealed class CappedStream(Stream inner, long cap, Func<Exception> tooLarge) : Stream
    {
        private long _read;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = inner.Read(buffer);
            _read += n;
            if (_read > cap) throw tooLarge();
            return n;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}

/// <summary>
/// What kind of file a path names, from stat(2): .NET tells a directory from a file but not a
/// FIFO or a device from a regular file. Linux on x86-64 and arm64 only (where st_mode's place in
/// struct stat is known); elsewhere the answer is unknown and the byte cap alone protects.
/// </summary>
internal static class UnixFileKind
{
    public enum Kind { Regular, Directory, CharacterDevice, BlockDevice, Fifo, Socket, Link }

    [DllImport("libc", EntryPoint = "stat", SetLastError = true)]
    private static extern int Stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buffer);

    public static Kind? Of(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        var modeOffset = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 24,   // st_dev, st_ino, st_nlink (8 bytes each), then st_mode
            Architecture.Arm64 => 16, // asm-generic: st_dev, st_ino, then st_mode
            _ => -1,
        };
        if (modeOffset < 0) return null;
        var buffer = new byte[256];
        try
        {
            if (Stat(path, buffer) != 0) return null;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null; // a C library without a plain stat() symbol (glibc before 2.33)
        }
        return (BitConverter.ToUInt32(buffer, modeOffset) & 0xF000) switch
        {
            0x8000 => Kind.Regular,
            0x4000 => Kind.Directory,
            0x2000 => Kind.CharacterDevice,
            0x6000 => Kind.BlockDevice,
            0x1000 => Kind.Fifo,
            0xC000 => Kind.Socket,
            0xA000 => Kind.Link,
            _ => null,
        };
    }

    public static string Describe(Kind kind) => kind switch
    {
        Kind.CharacterDevice => "character device",
        Kind.BlockDevice => "block device",
        Kind.Fifo => "FIFO (named pipe)",
        Kind.Socket => "socket",
        Kind.Directory => "directory",
        _ => "special file",
    };
}
