namespace Shootdown.Grains;

/// <summary>
/// Calls many grains from one grain turn with at most a fixed number of calls in flight
/// ("bound fan-out", Orleans' best practices): a storm's first window has hundreds of
/// initiators each building a batch for every CPU, and letting them all do so together only
/// multiplies the memory held at once, not the throughput of the cores.
/// <para>
/// The calls go out in groups, each awaited as a whole: every awaited call's completion is a
/// turn of the calling grain (its continuation is queued on the grain's scheduler), so a group
/// of <see cref="MaxInFlight"/> costs the caller one turn where awaiting each call cost one per call.
/// </para>
/// </summary>
internal static class BoundedFanout
{
    public const int MaxInFlight = 64;

    /// <summary>The answers in the order of <paramref name="items"/>.</summary>
    public static async Task<TOut[]> Call<TIn, TOut>(IReadOnlyList<TIn> items, Func<TIn, Task<TOut>> call)
    {
        var answers = new TOut[items.Count];
        var group = new Task<TOut>[Math.Min(MaxInFlight, items.Count)];
        for (var start = 0; start < items.Count; start += group.Length)
        {
            var size = Math.Min(group.Length, items.Count - start);
            for (var i = 0; i < size; i++) group[i] = call(items[start + i]);
            await Task.WhenAll(size == group.Length ? group : group[..size]);
            for (var i = 0; i < size; i++) answers[start + i] = group[i].Result;
        }
        return answers;
    }

    public static Task Call<TIn>(IReadOnlyList<TIn> items, Func<TIn, Task> call) =>
        Call(items, async item =>
        {
            await call(item);
            return true;
        });
}
