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
/// run. The kernel's spans are on the virtual timeline and the engine's and Orleans' on the wall
/// clock, so they are two services (<see cref="KernelService"/> beside the process's own): a
/// dashboard never draws a collapse's microseconds of virtual time on the same axis as a
/// window's wall time. <see cref="Shutdown"/> flushes everything and reports drops.
/// </summary>
public sealed class TelemetryPipeline : IDisposable
{
    private readonly TracerProvider[] _tracing;
    private readonly MeterProvider _metrics;
    private readonly List<OtlpJsonFile> _files;
    private readonly SpanCounter[] _spans = [new(), new()];
    private readonly TelemetryDiagnostics _diagnostics = new();
    private bool _shutDown;

    /// <summary>The service the kernel's virtual-time spans belong to: the process's service name and <c>.kernel</c>.</summary>
    public static string KernelService(string serviceName) => $"{serviceName}.kernel";

    private TelemetryPipeline(TelemetryOptions options)
    {
        Options = options;
        ResourceBuilder Resource(string service, string clock) => ResourceBuilder.CreateDefault()
            .AddService(service, serviceInstanceId: $"{Environment.MachineName}/{Environment.ProcessId}")
            .AddAttributes([new("shootdown.clock", clock)]);
        _files = [];
        OtlpJsonFile? traceFile = null, metricFile = null;
        if (options.FileDirectory is { } directory)
        {
            (traceFile, metricFile) = (new OtlpJsonFile(directory, "traces.otlp.jsonl"), new OtlpJsonFile(directory, "metrics.otlp.jsonl"));
            _files.AddRange([traceFile, metricFile]);
        }
        _tracing =
        [
            Tracer(Resource(KernelService(options.ServiceName), "virtual"), [Instrumentation.KernelSourceName], _spans[0], traceFile),
            Tracer(Resource(options.ServiceName, "wall"), [Instrumentation.EngineSourceName, Instrumentation.OrleansSourceName], _spans[1], traceFile),
        ];
        var metrics = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(Resource(options.ServiceName, "wall"))
            .AddMeter(Instrumentation.MeterName);
        if (options.Otlp) metrics.AddReader(Periodic(new OtlpMetricExporter(OtlpOptions(options, "v1/metrics"))));
        if (options.Console) metrics.AddReader(Periodic(new ConsoleMetricExporter(new ConsoleExporterOptions())));
        if (metricFile is not null) metrics.AddReader(Periodic(new OtlpJsonExporter<Metric>(metricFile, OtlpJson.WriteMetrics)));
        _metrics = metrics.Build();
    }

    /// <summary>One service's spans, from <paramref name="sources"/>, to every exporter the options name.</summary>
    private TracerProvider Tracer(ResourceBuilder resource, string[] sources, SpanCounter counter, OtlpJsonFile? file)
    {
        var tracing = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(resource)
            .SetSampler(new HeadSampler(Options.EngineSampleRatio))
            .AddSource(sources)
            .AddProcessor(counter);
        if (Options.Otlp) tracing.AddProcessor(Batched(new OtlpTraceExporter(OtlpOptions(Options, "v1/traces"))));
        if (Options.Console) tracing.AddProcessor(Batched(new ConsoleActivityExporter(new ConsoleExporterOptions())));
        if (file is not null) tracing.AddProcessor(Batched(new OtlpJsonExporter<Activity>(file, OtlpJson.WriteSpans)));
        return tracing.Build();
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
            foreach (var tracing in _tracing)
            {
                tracing.ForceFlush();
                tracing.Shutdown();
            }
            _metrics.ForceFlush();
            _metrics.Shutdown();
            foreach (var file in _files) file.Publish();
        }
        return new TelemetrySummary(_spans.Sum(s => s.Count), _diagnostics.Dropped, [.. _diagnostics.Problems]);
    }

    public void Dispose()
    {
        foreach (var tracing in _tracing) tracing.Dispose();
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
