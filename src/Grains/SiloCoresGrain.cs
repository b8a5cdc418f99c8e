namespace Shootdown.Grains;

/// <summary>Answers with its silo's core count and goes away: it holds nothing worth keeping.</summary>
[PartitionPlacement]
public sealed class SiloCoresGrain : Grain, ISiloCoresGrain
{
    public Task<int> ProcessorCount()
    {
        DeactivateOnIdle();
        return Task.FromResult(Environment.ProcessorCount);
    }
}
