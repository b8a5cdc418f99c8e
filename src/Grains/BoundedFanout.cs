namespace Shootdown.Grains;

/// <summary>
/// Calls many grains from one grain turn with at most a fixed number of calls in flight
/// ("bound fan-out", Orleans' best practices): a storm's first window has hundreds of
/// initiators each building a batch for every CPU, and letting them all do so together only
/// multiplies the memory held at once, not the throughput of the cores.
/// </summary>
internal static class BoundedFanout
{
    public const int MaxInFlight = 64;

    /// <summary>The answers in the order of <paramref name="items"/>.</summary>
    public static async Task<TOut[]> Call<TIn, TOut>(IReadOnlyList<TIn> items, Func<TIn, Task<TOut>> call)
    {
        var answers = new TOut[items.Count];
        var next = 0;
        async Task Worker()
        {
            // Grain turns are single-threaded: the shared cursor needs no lock.
            while (next < items.Count)
            {
                var i = next++;
                answers[i] = await call(items[i]);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, Math.Min(MaxInFlight, items.Count)).Select(_ => Worker()));
        return answers;
    }

    public static Task Call<TIn>(IReadOnlyList<TIn> items, Func<TIn, Task> call) =>
        Call(items, async item =>
        {
            await call(item);
            return true;
        });
}
