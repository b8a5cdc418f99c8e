using Shootdown.Cli;

namespace Shootdown.Tests;

/// <summary>Which CPUs <c>bench --cores N</c> pins a child to: N physical cores from the CPUs this process may use.</summary>
public sealed class BenchPinningTests
{
    [Fact]
    public void SiblingsNumberedHalfAMachineApartAreLeftForLast()
    {
        // Eight CPUs, four cores: CPU c and c + 4 share a core, as x86 Linux numbers them.
        int[] allowed = [0, 1, 2, 3, 4, 5, 6, 7];
        Assert.Equal([0, 1, 2, 3], BenchCommand.PinnedCpus(4, allowed, c => $"0:{c % 4}"));
        Assert.Equal([0, 1, 2, 3, 4, 5], BenchCommand.PinnedCpus(6, allowed, c => $"0:{c % 4}"));
    }

    [Fact]
    public void AdjacentSiblingsAreSkippedUntilEveryCoreHasOne()
    {
        int[] allowed = [0, 1, 2, 3, 4, 5, 6, 7];
        Assert.Equal([0, 2, 4, 6], BenchCommand.PinnedCpus(4, allowed, c => $"0:{c / 2}"));
    }

    [Fact]
    public void AContainersCpusetNeedNotStartAtCpuZero()
    {
        int[] allowed = [32, 33, 34, 35, 96, 97];
        Assert.Equal([32, 33], BenchCommand.PinnedCpus(2, allowed, c => $"cpu{c}"));
        // Cores on two packages with equal core ids are different cores.
        Assert.Equal([32, 33, 96], BenchCommand.PinnedCpus(3, allowed, c => $"{c / 64}:{c % 2}"));
    }

    [Fact]
    public void ThisMachinesPinningUsesOnlyCpusItMayRunOn()
    {
        var all = BenchCommand.PinnedCpus(Environment.ProcessorCount);
        Assert.Equal(Environment.ProcessorCount, all.Length);
        Assert.Equal(all.Length, all.Distinct().Count());
        Assert.Single(BenchCommand.PinnedCpus(1));
    }
}
