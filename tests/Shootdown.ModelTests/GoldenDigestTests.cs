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
        "334e133c7d348d77eda2ef39834ca7762cef7f2952d0993e27b9fdb82067b9c5",
        "d87d1b55bb58a4ffe6b359decd48e686dda72a2a7aadf2cc0609f946109aed0e")]
    [InlineData("khugepaged-4096.yaml",
        "b374e32b9ca2ad3ca0f9a336976390b6d623a45dfc1113f9647db308b0f1140c",
        "311c4170096d04c1f32c5d45472e5ce7c3d1c73d249b36d833aa489d458af86a")]
    [InlineData("hugetlb-unshare-4096.yaml",
        "6e5eec3e9ee93d53ca30969b6c84693739125488f2806a30d90de2fa9a704389",
        "ea236bcbfd98a95ab50a434313c792572992ac337265797705e1c47b4e464d98")]
    public void ShippedScenariosKeepTheirDigests(string scenario, string baseline, string patched)
    {
        var results = Sim.RunEveryPolicy(ScenarioLoader.LoadFile(Sim.ScenarioPath(scenario)));
        Assert.Equal([baseline, patched], [results["baseline"].Digest, results["patched"].Digest]);
    }

    [Fact]
    public void TheReadmeQuotesTheCurrentDigests()
    {
        var readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "README.md"));
        Assert.Contains("digest baseline b374e32b9ca2ad3ca0f9a336976390b6d623a45dfc1113f9647db308b0f1140c", readme);
        Assert.Contains("digest patched 311c4170096d04c1f32c5d45472e5ce7c3d1c73d249b36d833aa489d458af86a", readme);
    }
}
