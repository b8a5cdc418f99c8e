using System.Diagnostics;

namespace Shootdown.Telemetry;

/// <summary>
/// The engine's spans, in wall time. A run is one trace (always kept): the run, then a span per
/// policy. The grain engine's windows, and its start and collect fan-outs, are roots of their
/// own, sampled at the pipeline's ratio and linked to the call that ran them: one window's grain
/// calls make a trace of a readable size, where a whole run's would not.
/// </summary>
public static class EngineSpans
{
    public static Activity? StartRun(string scenario, string runId, string engine, int points)
    {
        Activity? run = null;
        Instrumentation.Detached(() => run = Instrumentation.Engine.StartActivity("shootdown.run", ActivityKind.Internal, default(ActivityContext),
            new ActivityTagsCollection { [Instrumentation.HeadSampledTag] = true }));
        if (run is null) return null;
        // Detached restored the caller's ambient span; the run becomes the ambient span from here.
        Activity.Current = run;
        run.SetTag(Instrumentation.ScenarioTag, scenario);
        run.SetTag(Instrumentation.RunIdTag, runId);
        run.SetTag("shootdown.engine", engine);
        run.SetTag("shootdown.points", points);
        return run;
    }

    public static Activity? StartPolicy(string policy, int point)
    {
        var span = Instrumentation.Engine.StartActivity($"policy {policy}");
        span?.SetTag("shootdown.policy", policy);
        span?.SetTag("shootdown.point", point);
        return span;
    }

    /// <summary>
    /// Runs <paramref name="body"/> inside a new root span linked to the ambient one; what it
    /// calls (grain calls) become that span's children. An async method's change to the ambient
    /// span never reaches its caller, so the caller's span is current again afterwards.
    /// </summary>
    public static async Task<T> InDetachedSpan<T>(string name, Func<Activity?, Task<T>> body)
    {
        if (!Instrumentation.Engine.HasListeners()) return await body(null);
        var from = Activity.Current;
        Activity.Current = null;
        using var span = Instrumentation.Engine.StartActivity(name, ActivityKind.Internal, default(ActivityContext),
            links: from is { Recorded: true } ? [new ActivityLink(from.Context)] : null);
        return await body(span);
    }
}
