using Shootdown.Model.Statistics;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>The rules every figure over replicates follows: intervals, percentiles, histograms and replicate seeds, against closed forms.</summary>
public sealed class StatisticsTests
{
    [Theory]
    [InlineData(0.5, 2)]
    [InlineData(0.9, 10)]
    [InlineData(0.99, 100)]
    [InlineData(0.999, 1000)]
    public void APercentileNeedsEnoughSamplesNotToBeTheMaximum(double p, int n) => Assert.Equal(n, Percentiles.MinSamples(p));

    [Fact]
    public void NearestRankIsNullBelowItsSampleSize()
    {
        long[] hundred = [.. Enumerable.Range(1, 100).Select(i => (long)i)];
        Assert.Equal(99, Percentiles.NearestRank(hundred, 0.99));
        Assert.Equal(50, Percentiles.NearestRank(hundred, 0.50));
        // 99 samples: rank ⌈0.99 · 99⌉ = 99 is the maximum, so no p99.
        Assert.Null(Percentiles.NearestRank(hundred[..99], 0.99));
        Assert.Null(Percentiles.NearestRank([7], 0.50));
        Assert.Equal(3, Percentiles.NearestRank([3, 8], 0.50));
    }

    [Fact]
    public void LatencySummariesCarryNAndLeaveOutUnsupportedPercentiles()
    {
        var ops = Enumerable.Range(1, 18).Select(i => new Model.Results.OpRecord(0, i, Model.Workload.OpType.CollapseHugePage, 0, 0, 0, i * 1000, 0, 0, 0, false, false)).ToList();
        var s = Model.Results.LatencySummary.Of(Model.Workload.OpType.CollapseHugePage, ops);
        Assert.Equal((18, 9000L, (long?)null, 18_000L), (s.Count, s.P50Ns!.Value, s.P99Ns, s.MaxNs));
    }

    [Fact]
    public void FiveReplicatesGiveNoNinetyFivePercentIntervalOnlyTheirRange()
    {
        var e = MedianEstimate.Of([5, 1, 4, 2, 3]);
        Assert.Equal((3.0, 1.0, 5.0, 5), (e.Median, e.Low, e.High, e.N));
        Assert.Equal(1 - 2.0 / 32, e.Coverage, 12);
        Assert.False(e.HasInterval);
    }

    [Fact]
    public void SixReplicatesGiveTheirRangeAsANinetySevenPercentInterval()
    {
        var e = MedianEstimate.Of([6, 1, 5, 2, 4, 3]);
        Assert.Equal((3.5, 1.0, 6.0), (e.Median, e.Low, e.High));
        Assert.Equal(1 - 2.0 / 64, e.Coverage, 12);
        Assert.True(e.HasInterval);
    }

    /// <summary>n = 9: [x₍₂₎, x₍₈₎] covers 1 − 2·(1 + 9)/512 = 0.9609; [x₍₃₎, x₍₇₎] only 0.8203.</summary>
    [Fact]
    public void NineReplicatesDropOneAtEachEnd()
    {
        var e = MedianEstimate.Of([.. Enumerable.Range(1, 9).Select(i => (double)i * 10)]);
        Assert.Equal((50.0, 20.0, 80.0), (e.Median, e.Low, e.High));
        Assert.Equal(1 - 2.0 * 10 / 512, e.Coverage, 12);
    }

    /// <summary>n = 20: P(Bin(20, ½) ≤ 5) = 21,700/2²⁰, so [x₍₆₎, x₍₁₅₎] covers 0.9586 (Conover's table A3 gives the same ranks).</summary>
    [Fact]
    public void TwentyReplicatesUseTheSixthAndFifteenth()
    {
        var e = MedianEstimate.Of([.. Enumerable.Range(1, 20).Select(i => (double)i)]);
        Assert.Equal((10.5, 6.0, 15.0), (e.Median, e.Low, e.High));
        Assert.Equal(1 - 2.0 * 21_700 / 1_048_576, e.Coverage, 12);
    }

    [Fact]
    public void OneRunIsItsOwnMedianWithNoInterval()
    {
        var e = MedianEstimate.Of([42]);
        Assert.Equal((42.0, 42.0, 42.0, 1, false), (e.Median, e.Low, e.High, e.N, e.HasInterval));
    }

    [Fact]
    public void AThousandReplicatesStillComputeWithoutOverflow()
    {
        var e = MedianEstimate.Of([.. Enumerable.Range(0, 1000).Select(i => (double)i)]);
        Assert.InRange(e.Coverage, 0.95, 0.96);
        Assert.InRange(e.Low, 460, 470);
        Assert.Equal(999 - e.Low, e.High);
    }

    [Fact]
    public void Log2HistogramBucketsAndPrintsAsBpftraceDoes()
    {
        var h = Log2Histogram.Of([0, 1, 2, 3, 4, 1000, 1024]);
        Assert.Equal(
            [(0L, 1L, 1L), (1, 2, 1), (2, 4, 2), (4, 8, 1), (8, 16, 0), (16, 32, 0), (32, 64, 0), (64, 128, 0), (128, 256, 0), (256, 512, 0), (512, 1024, 1), (1024, 2048, 1)],
            h.Buckets());
        var lines = h.Render("@latency_ns:").Split('\n');
        Assert.Equal("@latency_ns:", lines[0]);
        Assert.Equal("[0]                        1 |" + new string('@', 26) + new string(' ', 26) + "|", lines[1]);
        Assert.Equal("[2, 4)                     2 |" + new string('@', 52) + "|", lines[3]);
        Assert.Equal("[8, 16)                    0 |" + new string(' ', 52) + "|", lines[5]);
        Assert.Equal("[512, 1K)                  1 |" + new string('@', 26) + new string(' ', 26) + "|", lines[11]);
        Assert.Equal("[1K, 2K)                   1 |" + new string('@', 26) + new string(' ', 26) + "|", lines[12]);
        Assert.Equal(7, h.Total);
    }

    [Fact]
    public void ReplicateSeedsStartWithTheScenariosOwnAndArePureAndDistinct()
    {
        var seeds = ReplicateSeeds.Derive(42, 1000);
        Assert.Equal(42UL, seeds[0]);
        Assert.Equal(1000, seeds.Distinct().Count());
        Assert.All(seeds.Skip(1), s => Assert.True(s < 1_000_000_000UL));
        Assert.Equal(seeds.Take(8), ReplicateSeeds.Derive(42, 8));
        Assert.NotEqual(seeds[1], ReplicateSeeds.Derive(43, 2)[1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => ReplicateSeeds.Derive(42, 0));
    }
}
