using System.Globalization;

namespace Shootdown.Telemetry.Export;

public enum OtlpTransport
{
    Grpc,
    HttpProtobuf,
}

/// <summary>
/// Where telemetry goes and how much of it. The standard <c>OTEL_*</c> environment variables
/// give the defaults (<see cref="FromEnvironment"/>); command-line flags override them.
/// Traces and metrics go to the same exporters.
/// </summary>
public sealed record TelemetryOptions
{
    /// <summary>One operation in twenty: enough to find a collapse in a run of hundreds, without exporting every broadcast.</summary>
    public const double DefaultSampleRatio = 0.05;

    /// <summary>A window's trace is its hundreds of grain calls, and a run has tens of thousands of windows: one in a hundred.</summary>
    public const double DefaultEngineSampleRatio = 0.01;

    /// <summary>Head-sampling ratio for kernel operations (0..1).</summary>
    public double SampleRatio { get; init; } = DefaultSampleRatio;

    /// <summary>Head-sampling ratio for the grain engine's windows, and its start and collect fan-outs (0..1).</summary>
    public double EngineSampleRatio { get; init; } = DefaultEngineSampleRatio;

    public bool Otlp { get; init; }

    /// <summary>The collector's base URL; null for OTEL_EXPORTER_OTLP_ENDPOINT, or the protocol's default port on localhost.</summary>
    public Uri? OtlpEndpoint { get; init; }

    /// <summary>Null for OTEL_EXPORTER_OTLP_PROTOCOL, or gRPC.</summary>
    public OtlpTransport? OtlpProtocol { get; init; }

    public bool Console { get; init; }

    /// <summary>Writes traces.otlp.jsonl and metrics.otlp.jsonl (OTLP-JSON, one export batch per line) into this directory.</summary>
    public string? FileDirectory { get; init; }

    /// <summary>The exporter queue, in spans. Sized so that a sampled run is not dropped; drops are still reported.</summary>
    public int MaxQueueSize { get; init; } = 1 << 18;

    public string ServiceName { get; init; } = "shootdown";

    public bool Enabled => Otlp || Console || FileDirectory is not null;

    public static TelemetryOptions Disabled { get; } = new();

    /// <summary>
    /// Reads OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER (otlp, console, none), OTEL_TRACES_SAMPLER
    /// (always_on, always_off, traceidratio, parentbased_*) with OTEL_TRACES_SAMPLER_ARG, and
    /// OTEL_SERVICE_NAME. Setting OTEL_EXPORTER_OTLP_ENDPOINT alone turns OTLP on. The OTLP
    /// exporter itself reads the endpoint, protocol, headers and OTEL_BSP_* variables.
    /// </summary>
    public static TelemetryOptions FromEnvironment(Func<string, string?> env, string serviceName)
    {
        var options = new TelemetryOptions { ServiceName = Value(env, "OTEL_SERVICE_NAME") ?? serviceName };
        if (string.Equals(Value(env, "OTEL_SDK_DISABLED"), "true", StringComparison.OrdinalIgnoreCase)) return options;
        if (Value(env, "OTEL_TRACES_EXPORTER") is { } exporters)
        {
            foreach (var name in exporters.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                options = name switch
                {
                    "otlp" => options with { Otlp = true },
                    "console" => options with { Console = true },
                    "none" => options,
                    _ => throw new TelemetryConfigurationException($"OTEL_TRACES_EXPORTER: '{name}' is not one of otlp, console, none"),
                };
            }
        }
        else if (Value(env, "OTEL_EXPORTER_OTLP_ENDPOINT") is not null || Value(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") is not null)
        {
            options = options with { Otlp = true };
        }
        if (Value(env, "OTEL_TRACES_SAMPLER") is { } sampler)
        {
            options = options with
            {
                SampleRatio = sampler switch
                {
                    "always_on" or "parentbased_always_on" => 1,
                    "always_off" or "parentbased_always_off" => 0,
                    "traceidratio" or "parentbased_traceidratio" => ParseRatio(Value(env, "OTEL_TRACES_SAMPLER_ARG") ?? "1", "OTEL_TRACES_SAMPLER_ARG"),
                    _ => throw new TelemetryConfigurationException(
                        $"OTEL_TRACES_SAMPLER: '{sampler}' is not one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio"),
                },
            };
        }
        return options;
    }

    public static double ParseRatio(string text, string name) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var ratio) && ratio is >= 0 and <= 1
            ? ratio
            : throw new TelemetryConfigurationException($"{name}: '{text}' is not a sampling ratio between 0 and 1");

    private static string? Value(Func<string, string?> env, string name) => env(name) is { Length: > 0 } v ? v.Trim() : null;
}

/// <summary>Bad telemetry configuration (a flag or an OTEL_* variable); the message names it.</summary>
public sealed class TelemetryConfigurationException(string message) : Exception(message);
