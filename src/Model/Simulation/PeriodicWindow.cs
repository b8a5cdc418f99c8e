namespace Shootdown.Model.Simulation;

/// <summary>Windows of <c>duration</c> that open every <c>period</c> from <c>phase</c> on: IRQs-off intervals, vCPU preemption.</summary>
public static class PeriodicWindow
{
    /// <summary>The end of the window covering <paramref name="t"/>, or <paramref name="t"/> itself when none does.</summary>
    public static long SkipPast(long t, long phase, long period, long duration)
    {
        if (t < phase) return t;
        var offset = (t - phase) % period;
        return offset < duration ? t + duration - offset : t;
    }
}
