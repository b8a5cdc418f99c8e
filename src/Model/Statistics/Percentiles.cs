namespace Shootdown.Model.Statistics;

/// <summary>
/// Percentiles a sample can support. The nearest-rank p-th percentile of n samples is the
/// sample at rank ⌈p·n⌉; below n = ⌈1/(1−p)⌉ that rank is n itself, so "p99" of 18 samples
/// is their maximum under another name. Such a percentile is not reported: the caller says
/// "max" and gives n instead.
/// </summary>
public static class Percentiles
{
    /// <summary>The fewest samples whose nearest-rank p-th percentile is not simply their maximum: 2 for p50, 100 for p99, 1000 for p99.9.</summary>
    public static int MinSamples(double p)
    {
        if (p is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(p), p, "a percentile lies strictly between 0 and 1");
        // Rounded before the ceiling: 1/(1−0.99) is 100.00000000000009 in binary floating point.
        return (int)Math.Ceiling(Math.Round(1 / (1 - p), 9));
    }

    /// <summary>The nearest-rank p-th percentile of ascending <paramref name="sorted"/>, or null when the samples cannot support it.</summary>
    public static long? NearestRank(IReadOnlyList<long> sorted, double p) =>
        sorted.Count < MinSamples(p) ? null : sorted[Math.Clamp((int)Math.Ceiling(Math.Round(p * sorted.Count, 9)) - 1, 0, sorted.Count - 1)];
}
