namespace Shootdown.Grains;

/// <summary>
/// A simulated entity (a CPU or an mm) holding its model state. Keyed by (entity index, run key).
/// The coordinator drives it one conservative window at a time; other entity grains deliver
/// events to it directly, one batch per window.
/// </summary>
[Alias("shootdown.ISimEntityGrain")]
public interface ISimEntityGrain : IGrainWithIntegerCompoundKey
{
    /// <summary>
    /// Builds the model object for the run. The silo's first entity fetches the run's
    /// definition from the run grain; the others share it. Every entity is initialised before any starts.
    /// </summary>
    [Alias("Init")]
    Task Init(string runKey);

    /// <summary>Lets the model object schedule its first events, and delivers those meant for others.</summary>
    [Alias("Start")]
    Task<WindowReport> Start();

    /// <summary>Events from another entity, all for times at or after the current window's end.</summary>
    [Alias("Deliver"), Orleans.Concurrency.AlwaysInterleave]
    Task Deliver(EventBatch batch);

    /// <summary>Runs every event before <paramref name="windowEnd"/> and delivers what it sent.</summary>
    [Alias("RunWindow")]
    Task<WindowReport> RunWindow(long windowEnd);

    /// <summary>The run is over: drop the model state and the silo's cached setup.</summary>
    [Alias("End")]
    Task End();
}

[Alias("shootdown.ICpuGrain")]
public interface ICpuGrain : ISimEntityGrain
{
    /// <summary>The CPU's counters and the operations it initiated, once the run is over.</summary>
    [Alias("Collect")]
    Task<CpuReport> Collect();

    /// <summary>Checks this CPU's lockless walks against every table the run retired (JSON in, JSON out).</summary>
    [Alias("CheckSafety")]
    Task<string> CheckSafety(string orderedRetiresJson);
}

[Alias("shootdown.IMmGrain")]
public interface IMmGrain : ISimEntityGrain;

/// <summary>Runs one policy of one scenario on entity grains: the conservative-window coordinator.</summary>
[Alias("shootdown.IRunGrain")]
public interface IRunGrain : IGrainWithStringKey
{
    [Alias("Begin")]
    Task Begin(RunSpec spec);

    /// <summary>The run's definition, for silos that have not seen it. Answered while Begin waits on the entities' Init.</summary>
    [Alias("Spec"), Orleans.Concurrency.AlwaysInterleave]
    Task<RunSpec> Spec();

    /// <summary>Runs windows for about <paramref name="wallBudgetMs"/> of wall time; only the pace depends on it, never the result.</summary>
    [Alias("Advance")]
    Task<RunProgress> Advance(int wallBudgetMs);

    [Alias("Collect")]
    Task<RunReport> Collect();
}
