using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>
/// Golden digests of the shipped scenarios (as ROOT-Sim keeps golden per-LP hashes). A change to
/// the model or the cost defaults that moves any counter or timing fails here; if the change is
/// meant, update the digests, and the README's sample where it quotes them.
/// </summary>
public sealed class GoldenDigestTests
{
    [Theory]
    [InlineData("small-64.yaml",
        "cc0add619d1ff0a63531c2ca137cbb60ad2253163fefb816927ca29e316d2e30",
        "1b82d335dac1547a33c96f132744c74af597f593f408bf73e5f868a90d6b3071")]
    [InlineData("khugepaged-4096.yaml",
        "8bbaf8eab22651fef3d7cd22297fb2e528723878c905fa8204c9b78aea2d9a99",
        "280dfeb1b6eed2c5316f78d3f6588a94a11784670de2213d7fc570428c9e7226")]
    [InlineData("hugetlb-unshare-4096.yaml",
        "fab08279fd1c3a5963517bf806d341b543e4990569bd3a1984750bb1169bb33b",
        "77308285bb949da5f0c00897008b5492f31fed4253a0532645627af57aad2962")]
    public void ShippedScenariosKeepTheirDigests(string scenario, string baseline, string patched)
    {
        var results = Sim.RunEveryPolicy(ScenarioLoader.LoadFile(Sim.ScenarioPath(scenario)));
        Assert.Equal([baseline, patched], [results["baseline"].Digest, results["patched"].Digest]);
    }

    [Fact]
    public void TheReadmeQuotesTheCurrentDigests()
    {
        var readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "README.md"));
        // The sample's first replicate is the plain run of the scenario's own seed.
        Assert.Contains("seed 42         baseline 8bbaf8eab22651fe  patched 280dfeb1b6eed2c5", readme);
    }
}
