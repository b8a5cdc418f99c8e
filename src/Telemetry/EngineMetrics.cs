using System.Diagnostics.Metrics;

namespace Shootdown.Telemetry;

/// <summary>How the engine itself is doing, in wall time: windows, events, grain calls.</summary>
public static class EngineMetrics
{
    private static readonly Counter<long> Windows = Instrumentation.Meter.CreateCounter<long>(
        "shootdown.engine.windows", "{window}", "conservative windows the grain engine ran");

    private static readonly Counter<long> Events = Instrumentation.Meter.CreateCounter<long>(
        "shootdown.engine.events", "{event}", "model events processed");

    private static readonly Gauge<double> EventRate = Instrumentation.Meter.CreateGauge<double>(
        "shootdown.engine.events_per_second", "{event}/s", "model events processed per wall-clock second, over the latest stretch of a run");

    private static readonly Histogram<long> GrainCallsPerWindow = Instrumentation.Meter.CreateHistogram<long>(
        "shootdown.engine.grain_calls_per_window", "{call}", "grain calls one window of the grain engine made",
        advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 4, 16, 64, 256, 1_024, 4_096, 16_384, 65_536] });

    public static void Window(string engine, string policy, long grainCalls)
    {
        Windows.Add(1, Engine(engine), Policy(policy));
        GrainCallsPerWindow.Record(grainCalls, Engine(engine), Policy(policy));
    }

    /// <summary><paramref name="events"/> processed in <paramref name="wall"/>.</summary>
    public static void Progress(string engine, string policy, long events, TimeSpan wall)
    {
        Events.Add(events, Engine(engine), Policy(policy));
        if (wall > TimeSpan.Zero) EventRate.Record(events / wall.TotalSeconds, Engine(engine), Policy(policy));
    }

    private static KeyValuePair<string, object?> Engine(string engine) => new("engine", engine);
    private static KeyValuePair<string, object?> Policy(string policy) => new("policy", policy);
}
