namespace Shootdown.Model.Tracing;

/// <summary>
/// Where a host (the telemetry layer) receives traced operations. The model asks it nothing but
/// its sampling ratio and, at each step, an opaque carrier to keep with the trace.
/// </summary>
public interface IOpTraceSink
{
    /// <summary>The fraction of operations traced, from 0 to 1.</summary>
    double SampleRatio { get; }

    /// <summary>Whatever the host wants a trace to point back to when a step moves on (say, the running engine span); null for nothing.</summary>
    object? CurrentCarrier();

    /// <summary>A traced operation finished. Called on the initiating CPU's thread.</summary>
    void Completed(OpTrace trace);
}

/// <summary>
/// Head sampling at the operation root. The decision is a hash of (seed, initiating CPU,
/// operation serial): every engine, every silo layout and every policy of a scenario traces the
/// same operations, so a baseline collapse can be put beside the same patched collapse.
/// </summary>
public static class OpTraceSampling
{
    public static bool Samples(double ratio, ulong seed, int initiator, long serial)
    {
        if (ratio <= 0) return false;
        if (ratio >= 1) return true;
        var z = seed ^ ((ulong)initiator * 0x9E3779B97F4A7C15UL) ^ ((ulong)serial * 0xC2B2AE3D27D4EB4FUL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53)) < ratio;
    }
}
