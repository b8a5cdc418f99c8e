using System.CommandLine;
using Shootdown.Telemetry.Export;

namespace Shootdown.Cli;

/// <summary>
/// The telemetry options of <c>run</c> and <c>bench</c>. They override the standard OTEL_*
/// environment variables, which give the defaults.
/// </summary>
internal sealed class TelemetryFlags
{
    private readonly Option<bool> _otlp = new("--otlp")
    {
        Description = "Export traces and metrics over OTLP (endpoint from --otlp-endpoint or OTEL_EXPORTER_OTLP_ENDPOINT, else localhost).",
    };

    private readonly Option<string?> _endpoint = new("--otlp-endpoint")
    {
        Description = "The OTLP collector's URL, e.g. http://127.0.0.1:18889 (the Aspire dashboard's gRPC port); implies --otlp.",
    };

    private readonly Option<string?> _protocol = new("--otlp-protocol")
    {
        Description = "grpc or http (OTLP/HTTP protobuf); default OTEL_EXPORTER_OTLP_PROTOCOL, else grpc.",
    };

    private readonly Option<bool> _console = new("--telemetry-console") { Description = "Print spans and metrics to standard output." };

    private readonly Option<bool> _file = new("--telemetry-file")
    {
        Description = "Write traces.otlp.jsonl and metrics.otlp.jsonl (OTLP-JSON, one export batch per line) into --out.",
    };

    private readonly Option<string?> _sample = new("--trace-sample")
    {
        Description = $"Head-sampling ratio for kernel operations, 0 to 1 (default OTEL_TRACES_SAMPLER_ARG, else {TelemetryOptions.DefaultSampleRatio}).",
    };

    private readonly Option<string?> _engineSample = new("--trace-engine-sample")
    {
        Description = $"Head-sampling ratio for the grain engine's windows and their grain calls, 0 to 1 (default {TelemetryOptions.DefaultEngineSampleRatio}).",
    };

    public TelemetryFlags()
    {
        _protocol.AcceptOnlyFromAmong("grpc", "http");
        _endpoint.Validators.Add(r =>
        {
            var text = r.GetValueOrDefault<string?>();
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                r.AddError($"--otlp-endpoint '{text}' is not an http:// or https:// URL");
        });
    }

    public IEnumerable<Option> All => [_otlp, _endpoint, _protocol, _console, _file, _sample, _engineSample];

    /// <summary>The environment's settings with the flags applied; <paramref name="outDir"/> receives the files of --telemetry-file.</summary>
    public TelemetryOptions Resolve(ParseResult parse, string? outDir)
    {
        var options = TelemetryOptions.FromEnvironment(Environment.GetEnvironmentVariable, "shootdown");
        if (parse.GetValue(_endpoint) is { } endpoint) options = options with { Otlp = true, OtlpEndpoint = new Uri(endpoint) };
        if (parse.GetValue(_otlp)) options = options with { Otlp = true };
        if (parse.GetValue(_protocol) is { } protocol)
            options = options with { OtlpProtocol = protocol == "http" ? OtlpTransport.HttpProtobuf : OtlpTransport.Grpc };
        if (parse.GetValue(_console)) options = options with { Console = true };
        if (parse.GetValue(_file))
        {
            options = options with
            {
                FileDirectory = outDir ?? throw new TelemetryConfigurationException("--telemetry-file writes into the --out directory: give --out DIR too"),
            };
        }
        if (parse.GetValue(_sample) is { } ratio) options = options with { SampleRatio = TelemetryOptions.ParseRatio(ratio, "--trace-sample") };
        if (parse.GetValue(_engineSample) is { } engine)
            options = options with { EngineSampleRatio = TelemetryOptions.ParseRatio(engine, "--trace-engine-sample") };
        return options;
    }
}
