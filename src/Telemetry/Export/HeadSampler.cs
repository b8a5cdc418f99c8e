using OpenTelemetry.Trace;

namespace Shootdown.Telemetry.Export;

/// <summary>
/// Head sampling. A root Shootdown sampled itself (a kernel operation, a run) is kept: the
/// decision was made where the operation began, by a hash every engine shares. Any other root
/// (an engine window) is kept at the engine's ratio, and every child follows its parent, so a
/// sampled trace is complete and an unsampled one costs nothing.
/// </summary>
public sealed class HeadSampler(double ratio) : Sampler
{
    private readonly Sampler _others = new ParentBasedSampler(new TraceIdRatioBasedSampler(ratio));

    public override SamplingResult ShouldSample(in SamplingParameters parameters)
    {
        if (parameters.ParentContext.TraceId == default && parameters.Tags is { } tags)
        {
            foreach (var tag in tags)
                if (tag.Key == Instrumentation.HeadSampledTag) return new SamplingResult(SamplingDecision.RecordAndSample);
        }
        return _others.ShouldSample(parameters);
    }
}
