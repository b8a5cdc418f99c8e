using Spectre.Console;
using Spectre.Console.Rendering;

namespace Shootdown.Cli;

/// <summary>
/// The progress bar's rate: virtual time simulated per second of wall time (the bars count
/// virtual nanoseconds), beside Spectre's remaining-time column, whose estimate comes from the
/// same rate.
/// </summary>
internal sealed class VirtualRateColumn : ProgressColumn
{
    protected override bool NoWrap => true;

    public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
        new Text(task.IsFinished || task.Speed is not ({ } speed and > 0) ? "" : Describe(speed), new Style(Color.Grey));

    /// <summary>A rate in virtual nanoseconds per wall second, as the column prints it: <c>3.2 ms/s virtual</c>.</summary>
    public static string Describe(double virtualNsPerSecond) => virtualNsPerSecond switch
    {
        >= 1e9 => $"{virtualNsPerSecond / 1e9:0.0} s/s virtual",
        >= 1e6 => $"{virtualNsPerSecond / 1e6:0.0} ms/s virtual",
        >= 1e3 => $"{virtualNsPerSecond / 1e3:0.0} µs/s virtual",
        _ => $"{virtualNsPerSecond:0} ns/s virtual",
    };
}
