using System.Diagnostics;
using System.Text.Json;
using OpenTelemetry;
using OpenTelemetry.Metrics;
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
    private readonly StreamWriter _writer;
    private readonly Lock _lock = new();

    public OtlpJsonFile(string directory, string name)
    {
        Directory.CreateDirectory(directory);
        _path = Path.Combine(directory, name);
        _staging = Path.Combine(directory, $".{name}.{Environment.ProcessId}.partial");
        _writer = new StreamWriter(_staging, append: false) { NewLine = "\n" };
    }

    public void WriteLine(Action<Utf8JsonWriter> write)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer)) write(json);
        lock (_lock)
        {
            _writer.Write(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
            _writer.WriteLine();
        }
    }

    public void Publish()
    {
        lock (_lock)
        {
            _writer.Flush();
            _writer.Dispose();
            File.Move(_staging, _path, overwrite: true);
        }
    }

    public void Dispose()
    {
        lock (_lock) _writer.Dispose();
        if (File.Exists(_staging)) File.Delete(_staging);
    }
}

internal sealed class OtlpJsonSpanExporter(OtlpJsonFile file) : BaseExporter<Activity>
{
    public override ExportResult Export(in Batch<Activity> batch)
    {
        var resource = ParentProvider?.GetResource() ?? Resource.Empty;
        var copy = batch;
        file.WriteLine(w => OtlpJson.WriteSpans(w, resource, copy));
        return ExportResult.Success;
    }
}

internal sealed class OtlpJsonMetricExporter(OtlpJsonFile file) : BaseExporter<Metric>
{
    public override ExportResult Export(in Batch<Metric> batch)
    {
        var resource = ParentProvider?.GetResource() ?? Resource.Empty;
        var copy = batch;
        file.WriteLine(w => OtlpJson.WriteMetrics(w, resource, copy));
        return ExportResult.Success;
    }
}
