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
        "f68f8e9ae1ff929241bd651e0583234f079efc814d8ddbff0f989077a6672340",
        "ddbbae88337d6c868149955c3101b2f53c0a099af07193a12175b746407f1fd0")]
    [InlineData("hugetlb-unshare-4096.yaml",
        "cdaacfa0ab1137cced688249f9ae78f483ab0b27343015d61b11fefededf55ff",
        "2e047df41c1c2c2a63d2a89fcc8e293a9288076a7ec8a233b5939fd1deaed8f1")]
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
        Assert.Contains("seed 42         baseline f68f8e9ae1ff9292  patched ddbbae88337d6c86", readme);
    }
}
