using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Shootdown.Telemetry.Export;

/// <summary>
/// Listens to the OpenTelemetry SDK's and OTLP exporter's own EventSources for what they would
/// otherwise only log: spans dropped from a full export queue, and exports that failed.
/// </summary>
internal sealed class TelemetryDiagnostics : EventListener
{
    private static readonly string[] Sources = ["OpenTelemetry-Sdk", "OpenTelemetry-Exporter-OpenTelemetryProtocol"];
    private readonly ConcurrentQueue<string> _problems = new();
    private long _dropped;

    public long Dropped => Interlocked.Read(ref _dropped);
    public IReadOnlyCollection<string> Problems => _problems;

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (Sources.Contains(source.Name)) EnableEvents(source, EventLevel.Warning);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!Sources.Contains(e.EventSource.Name) || e.Level > EventLevel.Warning) return;
        // BatchExportProcessor.OnShutdown: (exportProcessorName, exporterName, droppedCount).
        var drop = e.EventName == "ExistsDroppedExportProcessorItems";
        if (drop && e.Payload is { Count: 3 } p && p[2] is long dropped) Interlocked.Add(ref _dropped, dropped);
        // The SDK also warns about meters it was not asked to listen to (the runtime's own); only
        // drops and errors concern delivery. The OTLP exporter warns when an export fails.
        if (!drop && e.EventSource.Name == "OpenTelemetry-Sdk" && e.Level > EventLevel.Error) return;
        var text = e.Message is { } format && e.Payload is { } payload ? SafeFormat(format, payload) : e.EventName ?? "event";
        if (_problems.Count < 20) _problems.Enqueue(text);
    }

    private static string SafeFormat(string format, IReadOnlyCollection<object?> payload)
    {
        try
        {
            return string.Format(System.Globalization.CultureInfo.InvariantCulture, format, payload.ToArray());
        }
        catch (FormatException)
        {
            return format;
        }
    }
}
