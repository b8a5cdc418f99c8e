using System.Text.Json;
using OpenTelemetry;
using OpenTelemetry.Resources;

namespace Shootdown.Telemetry.Export;

/// <summary>
/// Writes each export batch as one OTLP-JSON line. Lines go to a hidden staging file beside the
/// target, which <see cref="Publish"/> renames into place once the pipeline has flushed; an
/// interrupted run leaves no half-written file under the real name.
/// </summary>
internal sealed class OtlpJsonFile : IDisposable
{
    private readonly string _path;
    private readonly string _staging;
    private readonly FileStream _stream;
    private readonly Utf8JsonWriter _json;
    private readonly Lock _lock = new();

    public OtlpJsonFile(string directory, string name)
    {
        Directory.CreateDirectory(directory);
        _path = Path.Combine(directory, name);
        _staging = Path.Combine(directory, $".{name}.{Environment.ProcessId}.partial");
        _stream = new FileStream(_staging, FileMode.Create, FileAccess.Write);
        _json = new Utf8JsonWriter(_stream);
    }

    public void WriteLine(Action<Utf8JsonWriter> write)
    {
        lock (_lock)
        {
            write(_json);
            _json.Flush();
            _json.Reset();
            _stream.WriteByte((byte)'\n');
        }
    }

    public void Publish()
    {
        lock (_lock)
        {
            _json.Dispose();
            _stream.Dispose();
            File.Move(_staging, _path, overwrite: true);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _json.Dispose();
            _stream.Dispose();
        }
        if (File.Exists(_staging)) File.Delete(_staging);
    }
}

/// <summary>Writes one signal's request (see <see cref="OtlpJson"/>) for a batch.</summary>
internal delegate void OtlpJsonRequestWriter<T>(Utf8JsonWriter writer, Resource resource, in Batch<T> batch) where T : class;

/// <summary>An exporter of spans or metrics to an <see cref="OtlpJsonFile"/>, with the provider's resource.</summary>
internal sealed class OtlpJsonExporter<T>(OtlpJsonFile file, OtlpJsonRequestWriter<T> writeRequest) : BaseExporter<T> where T : class
{
    public override ExportResult Export(in Batch<T> batch)
    {
        var resource = ParentProvider?.GetResource() ?? Resource.Empty;
        var copy = batch;
        file.WriteLine(w => writeRequest(w, resource, copy));
        return ExportResult.Success;
    }
}
