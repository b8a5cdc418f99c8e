using System.Globalization;
using System.Text;

namespace Shootdown.Model.Statistics;

/// <summary>
/// A power-of-two histogram, as bpftrace's <c>hist()</c> builds it: a value v ≥ 1 falls in
/// [2ᵏ, 2ᵏ⁺¹) with k = ⌊log₂ v⌋, and 0 in a bucket of its own. Latencies and interrupt counts
/// spread over orders of magnitude (a lazy CPU's flush in ns, an idle CPU's C6 exit in hundreds of
/// µs), which linear buckets would hide.
/// </summary>
public sealed class Log2Histogram
{
    /// <summary>Counts by bucket: index 0 holds the zeros, index k + 1 the values in [2ᵏ, 2ᵏ⁺¹).</summary>
    private readonly long[] _counts = new long[64];

    public long Total { get; private set; }

    public static Log2Histogram Of(IEnumerable<long> values)
    {
        var h = new Log2Histogram();
        foreach (var v in values) h.Add(v);
        return h;
    }

    public void Add(long value)
    {
        if (value < 0) throw new ArgumentOutOfRangeException(nameof(value), value, "a log2 histogram counts values from 0 up");
        _counts[value == 0 ? 0 : 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)value)]++;
        Total++;
    }

    /// <summary>The buckets from the lowest to the highest non-empty one (empty ones between included), as [Low, High) with their counts.</summary>
    public IReadOnlyList<(long Low, long High, long Count)> Buckets()
    {
        var used = Enumerable.Range(0, _counts.Length).Where(i => _counts[i] > 0).ToList();
        if (used.Count == 0) return [];
        return Enumerable.Range(used[0], used[^1] - used[0] + 1)
            .Select(i => i == 0 ? (0L, 1L, _counts[0]) : (1L << (i - 1), 1L << i, _counts[i]))
            .ToList();
    }

    /// <summary>
    /// The histogram as bpftrace prints it: one line per bucket, the range with K/M/G for powers
    /// of 1024, the count, and a bar of '@' scaled to the largest bucket (52 wide).
    /// </summary>
    public string Render(string title, int width = 52)
    {
        var sb = new StringBuilder(title).Append('\n');
        var buckets = Buckets();
        if (buckets.Count == 0) return sb.Append("(no samples)\n").ToString();
        var most = buckets.Max(b => b.Count);
        foreach (var (low, high, count) in buckets)
        {
            var range = high - low == 1 ? $"[{Size(low)}]" : $"[{Size(low)}, {Size(high)})";
            var bar = new string('@', (int)(count * width / most));
            sb.Append(CultureInfo.InvariantCulture, $"{range,-20}{count,8} |{bar.PadRight(width)}|\n");
        }
        return sb.ToString();
    }

    private static string Size(long v) =>
        v >= 1L << 30 && v % (1L << 30) == 0 ? $"{v >> 30}G" :
        v >= 1L << 20 && v % (1L << 20) == 0 ? $"{v >> 20}M" :
        v >= 1L << 10 && v % (1L << 10) == 0 ? $"{v >> 10}K" : v.ToString(CultureInfo.InvariantCulture);
}
