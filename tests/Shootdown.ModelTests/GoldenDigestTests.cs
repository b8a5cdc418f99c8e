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
        "4a491ef37d932c6b3695f626d2ec802633704707867accdc9b89747cfbdea3bc",
        "0512df09986177f42aac1d353a78ba3400ee069c8d7863e10ea38999ad4997df")]
    [InlineData("khugepaged-4096.yaml",
        "360fd42c30a2fe9397405db864931396576afb7431d704791e0c9c6047416e60",
        "8c97946a6d9e696f1ed9ed7e37fe387965c5474bcfc75857dddb7c27e426f4ae")]
    [InlineData("hugetlb-unshare-4096.yaml",
        "d78336a8508236c22247d1cb22b748e9434d5de199a4865d9d1295d2d1cef336",
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
        Assert.Contains("seed 42         baseline 360fd42c30a2fe93  patched 8c97946a6d9e696f", readme);
    }
}
