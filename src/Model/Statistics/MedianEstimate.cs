namespace Shootdown.Model.Statistics;

/// <summary>
/// A figure over independent replicates: their median, and a distribution-free confidence
/// interval for the median built from order statistics (the sign-test interval; Conover,
/// "Practical Nonparametric Statistics", 3rd ed., §3.2). The interval [x₍ⱼ₎, x₍ₙ₋ⱼ₊₁₎] covers the
/// true median with probability 1 − 2·P(Bin(n, ½) ≤ j − 1), whatever the distribution; j is the
/// largest rank that keeps that at or above 95 %, so <see cref="Coverage"/> is the exact
/// coverage, which is at least 95 %. It assumes only independent replicates, which derived
/// seeds give, and unlike a bootstrap it needs no resampling and no random numbers.
/// Below six replicates no such interval exists ([min, max] of five covers 93.75 %):
/// <see cref="HasInterval"/> is false and <see cref="Low"/>/<see cref="High"/> are the range.
/// </summary>
public sealed record MedianEstimate(double Median, double Low, double High, int N, double Coverage)
{
    /// <summary>The confidence the interval is built for.</summary>
    public const double Confidence = 0.95;

    /// <summary>The fewest replicates that give a 95 % interval for the median.</summary>
    public const int MinReplicatesForInterval = 6;

    public bool HasInterval => Coverage >= Confidence;

    public static MedianEstimate Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no values to estimate from", nameof(values));
        var x = values.Order().ToArray();
        var n = x.Length;
        var median = n % 2 == 1 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
        if (n == 1) return new(median, median, median, 1, 0);
        // The widest interval, the range, has j = 1; narrow it while the coverage stays at 95 %.
        var j = 1;
        while (j + 1 <= n / 2 && IntervalCoverage(n, j + 1) >= Confidence) j++;
        return new(median, x[j - 1], x[n - j], n, IntervalCoverage(n, j));
    }

    /// <summary>P(x₍ⱼ₎ ≤ median ≤ x₍ₙ₋ⱼ₊₁₎) = 1 − 2·P(Bin(n, ½) ≤ j − 1).</summary>
    public static double IntervalCoverage(int n, int j)
    {
        // Sum of C(n, k) / 2^n for k < j, computed in logs so that n in the thousands does not overflow.
        var tail = 0.0;
        for (var k = 0; k < j; k++) tail += Math.Exp(LogChoose(n, k) - n * Math.Log(2));
        return Math.Max(0, 1 - 2 * tail);
    }

    private static double LogChoose(int n, int k)
    {
        var s = 0.0;
        for (var i = 1; i <= k; i++) s += Math.Log(n - k + i) - Math.Log(i);
        return s;
    }
}
