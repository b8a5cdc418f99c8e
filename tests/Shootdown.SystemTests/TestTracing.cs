using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Shootdown.Telemetry;
using Shootdown.Telemetry.Export;

namespace Shootdown.Tests;

/// <summary>
/// The test process's one tracer: Shootdown's sources and Orleans', into memory. It records only
/// while a telemetry test captures (the telemetry collection runs alone), so the other tests
/// pay no span costs; while capturing it samples as the product does, with ratio 1.
/// </summary>
internal static class TestTracing
{
    private static readonly List<Activity> Finished = new();
    private static volatile bool s_capturing;
    private static readonly TracerProvider Provider = Sdk.CreateTracerProviderBuilder()
        .SetSampler(new CaptureSampler())
        .AddSource(Instrumentation.KernelSourceName, Instrumentation.EngineSourceName, Instrumentation.OrleansSourceName)
        .AddInMemoryExporter(Finished)
        .Build()!;

    /// <summary>Brings the tracer up (recording nothing until <see cref="Capture"/>), for silos built after it to see a listener.</summary>
    public static void Listen() => _ = Provider;

    /// <summary>Starts recording, with an empty store; disposing stops it.</summary>
    public static IDisposable Capture()
    {
        Listen();
        lock (Finished) Finished.Clear();
        s_capturing = true;
        return new Stop();
    }

    /// <summary>Every span recorded so far.</summary>
    public static List<Activity> Spans()
    {
        Provider.ForceFlush();
        lock (Finished) return [.. Finished];
    }

    /// <summary>The root of each kernel operation traced in the run <paramref name="runId"/>, with its descendants by parent span id.</summary>
    public static (List<Activity> Roots, ILookup<ActivitySpanId, Activity> Children) KernelTraces(string runId)
    {
        var spans = Spans().Where(s => s.Source.Name == Instrumentation.KernelSourceName).ToList();
        var roots = spans.Where(s => s.ParentSpanId == default && (string?)s.GetTagItem(Instrumentation.RunIdTag) == runId).ToList();
        var traces = roots.Select(r => r.TraceId).ToHashSet();
        return (roots, spans.Where(s => traces.Contains(s.TraceId) && s.ParentSpanId != default).ToLookup(s => s.ParentSpanId));
    }

    private sealed class Stop : IDisposable
    {
        public void Dispose() => s_capturing = false;
    }

    private sealed class CaptureSampler : Sampler
    {
        private readonly HeadSampler _product = new(1.0);

        public override SamplingResult ShouldSample(in SamplingParameters parameters) =>
            s_capturing ? _product.ShouldSample(parameters) : new SamplingResult(SamplingDecision.Drop);
    }
}

/// <summary>Telemetry tests capture process-wide spans, so they run on their own, after the parallel tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "telemetry";
}
