using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Shootdown.Telemetry;

/// <summary>
/// Shootdown's ActivitySources and Meter. The kernel's spans are in virtual time, the engine's
/// in wall time; both go through one OpenTelemetry pipeline.
/// </summary>
public static class Instrumentation
{
    /// <summary>The simulated kernel: one trace per sampled operation, timestamps in virtual time.</summary>
    public const string KernelSourceName = "Shootdown.Kernel";

    /// <summary>The engine: the run, each policy, the grain engine's windows. Wall time.</summary>
    public const string EngineSourceName = "Shootdown.Engine";

    /// <summary>Orleans' application-call spans (AddActivityPropagation); the runtime's own source is left out as noise.</summary>
    public const string OrleansSourceName = "Microsoft.Orleans.Application";

    public const string MeterName = "Shootdown";

    /// <summary>
    /// Set on a root span whose sampling Shootdown decided itself (a kernel operation, by
    /// <c>OpTraceSampling</c>; a run, always). The pipeline's sampler keeps such roots as they
    /// are and applies its ratio to every other root.
    /// </summary>
    public const string HeadSampledTag = "shootdown.head_sampled";

    /// <summary>On the run span and on every kernel operation: which scenario, and which invocation of it.</summary>
    public const string ScenarioTag = "shootdown.scenario", RunIdTag = "shootdown.run_id";

    public static readonly ActivitySource Kernel = new(KernelSourceName);
    public static readonly ActivitySource Engine = new(EngineSourceName);
    public static readonly Meter Meter = new(MeterName);

    /// <summary>
    /// Virtual time 0 on a trace viewer's clock. Fixed, so a trace's timestamps read directly as
    /// the simulated time: 2000-01-01T00:00:00.001234Z is 1234 µs into the run.
    /// </summary>
    public static readonly DateTimeOffset VirtualEpoch = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>A virtual time on the trace clock. Activity timestamps have 100 ns ticks; exact nanoseconds go in attributes.</summary>
    public static DateTimeOffset AtVirtual(long ns) => VirtualEpoch.AddTicks(ns / TimeSpan.NanosecondsPerTick);

    /// <summary>
    /// Ends a span at a virtual time. Activity.Stop() treats a zero duration as "not set" and
    /// stamps the wall clock, so a span shorter than one tick is given one tick.
    /// </summary>
    public static void StopAtVirtual(Activity activity, long endNs)
    {
        var end = AtVirtual(endNs).UtcDateTime;
        if (end <= activity.StartTimeUtc) end = activity.StartTimeUtc.AddTicks(1);
        activity.SetEndTime(end);
        activity.Stop();
    }

    /// <summary>
    /// Runs <paramref name="body"/> with no ambient span, so what it starts are roots (a kernel
    /// operation is a trace of its own, not a child of the grain call that finished it).
    /// </summary>
    public static void Detached(Action body)
    {
        var previous = Activity.Current;
        Activity.Current = null;
        try
        {
            body();
        }
        finally
        {
            Activity.Current = previous;
        }
    }
}
