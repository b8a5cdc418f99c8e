using Shootdown.Analysis.Runs;
using Shootdown.Client.Running;
using Shootdown.Engine.Checkpoints;
using Shootdown.Grains.Checkpoints;
using Shootdown.Grains;
using Shootdown.Model.Kernel;
using Shootdown.Model.Simulation;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>
/// Resuming from a stored checkpoint: a good one resumes to the reference digest; one whose part
/// was changed in the store (a flipped bit, a cut) is refused, and the policy starts again from
/// virtual time 0 to the reference digest, saying so, rather than resume to a wrong one.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class CheckpointIntegrityTests(ClusterFixture clusters)
{
    private static readonly Scenario Small = ScenarioLoader.LoadFile(Sim.ScenarioPath("small-64.yaml"));

    /// <summary>
    /// Runs the baseline with a checkpoint every 3 windows up to its second, then abandons it, as
    /// the client abandons a run that lost a silo: both checkpoints it keeps are left in the store.
    /// </summary>
    private async Task<(CheckpointRef Latest, CheckpointRef Previous)> Checkpoints()
    {
        var policy = Small.Policies[0];
        var spec = new RunSpec($"{Guid.NewGuid():N}/{policy.Name}", Small.Definition.ToJson(), SimulationDefinition.PolicyToJson(policy), policy.Name,
            0, "test", Small.Name, Partitions: 2, Checkpoints: new CheckpointPolicy(Windows: 3, WallMs: 0));
        var run = clusters.OneSilo.Client.GetGrain<IRunGrain>(spec.RunKey);
        await run.Begin(spec);
        CheckpointRef? previous = null;
        RunProgress step;
        do
        {
            step = await run.Advance(10_000);
            if (step.Checkpoint is { Number: 1 } first) previous = first;
        }
        while (step.Checkpoint is not { Number: >= 2 });
        await Task.WhenAll(Enumerable.Range(0, 2).Select(p => clusters.OneSilo.Client.GetGrain<IPartitionGrain>(p, PartitionKeys.Extension(spec, p)).Abandon())
            .Append(run.Abandon()));
        return (step.Checkpoint, previous!);
    }

    private async Task<CheckpointRef> ACheckpoint() => (await Checkpoints()).Latest;

    private async Task<PolicyRun> ResumeFrom(CheckpointRef checkpoint, CheckpointRef? fallback = null) =>
        await ShootdownRunner.RunPolicyOnGrainsAsync(Small, Small.Policies[0], clusters.OneSilo.Client, resumeFrom: checkpoint, fallback: fallback);

    private static async Task Change(CheckpointRef checkpoint, string change)
    {
        var store = new ProcessCheckpointStore();
        var key = CheckpointKeys.Part(checkpoint.RunKey, checkpoint.Number, 1);
        var part = (await store.Get(key))!;
        if (change == "flip") part[part.Length / 3] ^= 0x04;
        else part = part[..(part.Length / 2)];
        await store.Put(key, new SealedPart([part]));
    }

    private static string Reference => InProcessRuns.Reference(Small, Small.Policies[0]).Result.Digest;

    [Fact]
    public async Task AGoodCheckpointResumesToTheReferenceDigest()
    {
        var resumed = await ResumeFrom(await ACheckpoint());
        Assert.Equal(Reference, resumed.Result.Digest);
        Assert.Empty(resumed.Recoveries);
    }

    [Theory]
    [InlineData("flip")]
    [InlineData("cut")]
    public async Task AChangedPartIsRefusedAndThePolicyStartsAgain(string change)
    {
        var checkpoint = await ACheckpoint();
        await Change(checkpoint, change);

        var resumed = await ResumeFrom(checkpoint);
        Assert.Equal(Reference, resumed.Result.Digest);
        var line = Assert.Single(resumed.Recoveries);
        Assert.Equal($"baseline: checkpoint part {checkpoint.RunKey} #{checkpoint.Number} part 1 refused: its integrity check fails " +
                     "(changed, truncated, or written with another cluster's key); restarted from virtual time 0", line);
    }

    /// <summary>The latest checkpoint's part changed: the one before it, which the broken run also kept, is resumed from.</summary>
    [Fact]
    public async Task AChangedPartOfTheLatestCheckpointResumesFromTheOneBefore()
    {
        var (latest, previous) = await Checkpoints();
        await Change(latest, "flip");

        var resumed = await ResumeFrom(latest, previous);
        Assert.Equal(Reference, resumed.Result.Digest);
        var line = Assert.Single(resumed.Recoveries);
        Assert.Equal($"baseline: checkpoint part {latest.RunKey} #{latest.Number} part 1 refused: its integrity check fails " +
                     $"(changed, truncated, or written with another cluster's key); resumed from the checkpoint before it, 1 at window {previous.Windows:N0}, " +
                     $"virtual {previous.VirtualTimeNs / 1000.0:N0} µs", line);
    }

    /// <summary>A run resumed from a broken one's checkpoints drops them when it ends: nothing of the broken run is left in the store.</summary>
    [Fact]
    public async Task AResumedRunThatEndsLeavesNoneOfTheBrokenRunsParts()
    {
        var (latest, previous) = await Checkpoints();
        var store = new ProcessCheckpointStore();
        var parts = new[] { latest, previous }.SelectMany(c => CheckpointKeys.Parts(c.RunKey, c.Number, c.Partitions)).ToList();
        Assert.All(parts, key => Assert.NotNull(store.Get(key).Result));

        var resumed = await ResumeFrom(latest, previous);
        Assert.Equal(Reference, resumed.Result.Digest);
        foreach (var key in parts) Assert.Null(await store.Get(key));
    }
}
