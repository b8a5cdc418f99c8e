using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Shootdown.Telemetry.Export;

/// <summary>What the pipeline delivered, told once it has shut down.</summary>
public sealed record TelemetrySummary(long Spans, long Dropped, IReadOnlyList<string> Problems)
{
    public override string ToString() =>
        Dropped == 0 && Problems.Count == 0
            ? $"telemetry: {Spans:N0} spans recorded, none dropped"
            : $"telemetry: {Spans:N0} spans recorded, {Dropped:N0} dropped at a full export queue"
              + string.Concat(Problems.Select(p => $"\n  {p}"));
}

/// <summary>
/// One process's OpenTelemetry pipeline: the kernel, engine and Orleans sources, Shootdown's
/// meter, the head sampler, and the chosen exporters behind queues large enough for a sampled
/// run. <see cref="Shutdown"/> flushes everything and reports drops.
/// </summary>
public sealed class TelemetryPipeline : IDisposable
{
    private readonly TracerProvider _tracing;
    private readonly MeterProvider _metrics;
    private readonly List<OtlpJsonFile> _files;
    private readonly SpanCounter _spans = new();
    private readonly TelemetryDiagnostics _diagnostics = new();
    private bool _shutDown;

    private TelemetryPipeline(TelemetryOptions options)
    {
        Options = options;
        var resource = ResourceBuilder.CreateDefault().AddService(options.ServiceName, serviceInstanceId: $"{Environment.MachineName}/{Environment.ProcessId}");
        var tracing = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(resource)
            .SetSampler(new HeadSampler(options.EngineSampleRatio))
            .AddSource(Instrumentation.KernelSourceName, Instrumentation.EngineSourceName, Instrumentation.OrleansSourceName)
            .AddProcessor(_spans);
        var metrics = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter(Instrumentation.MeterName);
        _files = [];
        if (options.Otlp)
        {
            tracing.AddProcessor(Batched(new OtlpTraceExporter(OtlpOptions(options, "v1/traces"))));
            metrics.AddReader(Periodic(new OtlpMetricExporter(OtlpOptions(options, "v1/metrics"))));
        }
        if (options.Console)
        {
            tracing.AddProcessor(Batched(new ConsoleActivityExporter(new ConsoleExporterOptions())));
            metrics.AddReader(Periodic(new ConsoleMetricExporter(new ConsoleExporterOptions())));
        }
        if (options.FileDirectory is { } dir)
        {
            var traces = new OtlpJsonFile(dir, "traces.otlp.jsonl");
            var meters = new OtlpJsonFile(dir, "metrics.otlp.jsonl");
            _files.Add(traces);
            _files.Add(meters);
            tracing.AddProcessor(Batched(new OtlpJsonExporter<Activity>(traces, OtlpJson.WriteSpans)));
            metrics.AddReader(Periodic(new OtlpJsonExporter<Metric>(meters, OtlpJson.WriteMetrics)));
        }
        _tracing = tracing.Build();
        _metrics = metrics.Build();
    }

    public TelemetryOptions Options { get; }

    /// <summary>Starts a pipeline, or returns null when no exporter is configured: tracing off creates no listener at all.</summary>
    public static TelemetryPipeline? Start(TelemetryOptions options) => options.Enabled ? new TelemetryPipeline(options) : null;

    private BatchActivityExportProcessor Batched(BaseExporter<Activity> exporter)
    {
        // The queue holds the spans between two exports. Environment settings (OTEL_BSP_*) win.
        var fromEnv = new BatchExportActivityProcessorOptions();
        var queue = Environment.GetEnvironmentVariable("OTEL_BSP_MAX_QUEUE_SIZE") is null ? Options.MaxQueueSize : fromEnv.MaxQueueSize;
        var batch = Environment.GetEnvironmentVariable("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") is null ? Math.Min(4096, queue) : fromEnv.MaxExportBatchSize;
        var delay = Environment.GetEnvironmentVariable("OTEL_BSP_SCHEDULE_DELAY") is null ? 500 : fromEnv.ScheduledDelayMilliseconds;
        return new BatchActivityExportProcessor(exporter, queue, delay, fromEnv.ExporterTimeoutMilliseconds, batch);
    }

    /// <summary>Metrics are exported every few seconds and once more at shutdown, so a short run still sends its figures.</summary>
    private static PeriodicExportingMetricReader Periodic(BaseExporter<Metric> exporter) => new(exporter, 5_000);

    private static OtlpExporterOptions OtlpOptions(TelemetryOptions options, string signalPath)
    {
        // The parameterless constructor reads OTEL_EXPORTER_OTLP_* (endpoint, protocol, headers, timeout).
        var otlp = new OtlpExporterOptions();
        if (options.OtlpProtocol is { } protocol)
            otlp.Protocol = protocol == OtlpTransport.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
        if (options.OtlpEndpoint is { } endpoint)
        {
            // An endpoint set in code is used as is; over HTTP it must name the signal's path.
            otlp.Endpoint = otlp.Protocol == OtlpExportProtocol.HttpProtobuf
                ? new Uri($"{endpoint.ToString().TrimEnd('/')}/{signalPath}")
                : endpoint;
        }
        return otlp;
    }

    /// <summary>Flushes traces, then metrics, publishes the files, and says what was delivered.</summary>
    public TelemetrySummary Shutdown()
    {
        if (!_shutDown)
        {
            _shutDown = true;
            _tracing.ForceFlush();
            _tracing.Shutdown();
            _metrics.ForceFlush();
            _metrics.Shutdown();
            foreach (var file in _files) file.Publish();
        }
        return new TelemetrySummary(_spans.Count, _diagnostics.Dropped, [.. _diagnostics.Problems]);
    }

    public void Dispose()
    {
        _tracing.Dispose();
        _metrics.Dispose();
        foreach (var file in _files) file.Dispose();
        _diagnostics.Dispose();
    }

    /// <summary>Counts the sampled spans that ended, the figure drops are measured against.</summary>
    private sealed class SpanCounter : BaseProcessor<Activity>
    {
        private long _count;
        public long Count => Interlocked.Read(ref _count);

        public override void OnEnd(Activity data)
        {
            if (data.Recorded) Interlocked.Increment(ref _count);
        }
    }
}
