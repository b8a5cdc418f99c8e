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
        "e66b25a93495f55e7f693fa7ee2f3535b31d03b7b9c7a83cb5fccbc4e4965a2f",
        "ecbe76cf0618410a6f38c862d88a578bd7933581cd90abb9269ee2d01ec96ba0")]
    [InlineData("khugepaged-4096.yaml",
        "222b972325ee88710da6f7d2cab6a4055393af49d83e97aa25926cf11fa97945",
        "aa56f7dd1b086aee6ff323246fa2e70d58f5274efe88e754817f3a0530ba29c8")]
    [InlineData("hugetlb-unshare-4096.yaml",
        "edb6138ea5ad21d859103821cd81437aa8e67fa24a1d4d12a8b80c4ca63bc66f",
        "ad99850b8c75e6853acd40321819399b4852c208067e7a2a453f9143ece0edd4")]
    public void ShippedScenariosKeepTheirDigests(string scenario, string baseline, string patched)
    {
        var results = Sim.RunEveryPolicy(ScenarioLoader.LoadFile(Sim.ScenarioPath(scenario)));
        Assert.Equal([baseline, patched], [results["baseline"].Digest, results["patched"].Digest]);
    }

    [Fact]
    public void TheReadmeQuotesTheCurrentDigests()
    {
        var readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "README.md"));
        Assert.Contains("digest baseline 222b972325ee88710da6f7d2cab6a4055393af49d83e97aa25926cf11fa97945", readme);
        Assert.Contains("digest patched aa56f7dd1b086aee6ff323246fa2e70d58f5274efe88e754817f3a0530ba29c8", readme);
    }
}
