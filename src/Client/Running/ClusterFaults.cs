namespace Shootdown.Client.Running;

/// <summary>
/// A cluster fault that ends a run, as one line a person can act on: the cluster failed the run
/// beyond what recovery covers (every silo lost, the only gateway gone), or a grain call went
/// unanswered (a silo lost mid-call, or one overloaded). Orleans' own exception and stack stay out.
/// </summary>
public static class ClusterFaults
{
    /// <summary>The line for <paramref name="e"/>, or null when it is not a cluster fault.</summary>
    public static string? OneLine(Exception e) => e switch
    {
        Orleans.Runtime.OrleansException => $"the cluster could not finish the run: {e.GetType().Name}: {FirstLine(e.Message)}",
        TimeoutException => $"the cluster did not answer in time: {FirstLine(e.Message)}",
        _ => null,
    };

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
