using System.Collections.Immutable;

namespace Shootdown.Scenarios;

/// <summary>
/// The seeds of <c>--seeds N</c>: the scenario's own seed first (so one replicate is the plain
/// run), then seeds derived from it by SplitMix64 (Steele, Lea and Flood, OOPSLA 2014), a
/// bijective mixer, so the list is a pure function of (seed, N) and any replicate reruns alone
/// with <c>--seed S</c>. Derived seeds are cut to nine digits to stay easy to type; a repeat is
/// skipped, so the seeds are distinct.
/// </summary>
public static class ReplicateSeeds
{
    /// <summary>The most replicates one invocation runs.</summary>
    public const int Max = 1000;

    public static ImmutableArray<ulong> Derive(ulong seed, int count)
    {
        if (count is < 1 or > Max) throw new ArgumentOutOfRangeException(nameof(count), count, $"from 1 to {Max} replicates");
        var seeds = ImmutableArray.CreateBuilder<ulong>(count);
        var seen = new HashSet<ulong> { seed };
        seeds.Add(seed);
        var state = seed;
        while (seeds.Count < count)
        {
            var next = SplitMix64(ref state) % 1_000_000_000UL;
            if (seen.Add(next)) seeds.Add(next);
        }
        return seeds.MoveToImmutable();
    }

    private static ulong SplitMix64(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
