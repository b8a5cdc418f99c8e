using Shootdown.Client.Running;
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
        "7bbdb9072311c26b559a52bc8fdd7c5a987dba9b0b6101707193cac1d714c3c0",
        "28051be4966e3fcedf4d55055c964e3bbb54616e6518a07f1f9862cea8f53e45")]
    [InlineData("khugepaged-4096.yaml",
        "d45ed12b9278d304464dcb66ff0ff3528f9c0d100c02ffcb4ce2f635eac9af0a",
        "562f2b9c2abf9b5e2b34b449ef2789b5422816c4fd0fd8a560af2386dcbdd781")]
    [InlineData("hugetlb-unshare-4096.yaml",
        "9bd45ddb9219e97d9b2f771c8292b87166bdb3bfc119a6e1f36f33e98c601c32",
        "cdb542e35747a57eb93d2a975749301573b990268f88bb3de058c3d9fe5984d8")]
    public async Task ShippedScenariosKeepTheirDigests(string scenario, string baseline, string patched)
    {
        var result = await ShootdownRunner.RunAsync(ScenarioLoader.LoadFile(Sim.ScenarioPath(scenario)), EngineKind.Reference);
        Assert.Equal([baseline, patched], result.Runs.Select(r => r.Result.Digest));
    }

    [Fact]
    public void TheReadmeQuotesTheCurrentDigests()
    {
        var readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "README.md"));
        Assert.Contains("digest baseline d45ed12b9278d304464dcb66ff0ff3528f9c0d100c02ffcb4ce2f635eac9af0a", readme);
        Assert.Contains("digest patched 562f2b9c2abf9b5e2b34b449ef2789b5422816c4fd0fd8a560af2386dcbdd781", readme);
    }
}
