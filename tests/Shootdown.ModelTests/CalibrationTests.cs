using Shootdown.Analysis.Calibration;

namespace Shootdown.Tests;

/// <summary>
/// docs/calibration.md: every reproduced ratio stays within its stated tolerance, the model's
/// defaults are the fit, and the document shows what the model computes today.
/// </summary>
public sealed class CalibrationTests
{
    private static readonly Lazy<IReadOnlyList<CalibrationRow>> Rows = new(() => CalibrationTable.Measure(Sim.ScenarioPath("calibration")));

    private static readonly string[] Ids = ["1a", "1b", "2a", "2b", "3", "4", "5a", "5b", "5c", "5d", "6"];

    public static TheoryData<string> RowIds => new(Ids);

    [Theory]
    [MemberData(nameof(RowIds))]
    public void ReproducedRatioIsWithinItsTolerance(string id)
    {
        var row = Rows.Value.Single(r => r.Id == id);
        Assert.True(row.WithinTolerance,
            $"calibration row {id} ({row.Quantity}): model {row.ModelText} vs published {row.PublishedText}, ratio {row.RatioText} outside {row.ToleranceText}");
    }

    [Fact]
    public void EveryRowIsTested() => Assert.Equal(Ids, Rows.Value.Select(r => r.Id));

    /// <summary>The interrupt path's defaults are its guesses at the scale fitted to row 5a, and no other row is fitted.</summary>
    [Fact]
    public void TheDefaultsAreTheFitOfTheOneFittedRow()
    {
        var defaults = new Model.Costs.CostModel();
        Assert.Equal(defaults, CalibrationTable.ScaleInterruptPath(defaults, CalibrationTable.FitInterruptPath(Sim.ScenarioPath("calibration"))));
        Assert.Equal(["5a"], Rows.Value.Where(r => r.Use == CalibrationUse.Fit).Select(r => r.Id));
    }

    private static string Between(string marker)
    {
        var doc = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "docs", "calibration.md"));
        string begin = $"<!-- {marker}:begin -->\n", end = $"<!-- {marker}:end -->";
        var start = doc.IndexOf(begin, StringComparison.Ordinal) + begin.Length;
        return doc[start..doc.IndexOf(end, StringComparison.Ordinal)];
    }

    [Fact]
    public void DocumentShowsTheModelsCurrentFigures() => Assert.Equal(CalibrationTable.Markdown(Rows.Value), Between("calibration"));

    /// <summary>The sensitivity table in docs/calibration.md is what `calibrate --sensitivity --markdown` prints today.</summary>
    [Fact]
    public void DocumentShowsTheCurrentSensitivity() =>
        Assert.Equal(CalibrationTable.SensitivityMarkdown([.. Rows.Value], CalibrationTable.Sensitivity(Sim.ScenarioPath("calibration"))), Between("sensitivity"));
}
