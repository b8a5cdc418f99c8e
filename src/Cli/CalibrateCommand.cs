using System.CommandLine;
using Shootdown.Analysis.Calibration;
using Spectre.Console;

namespace Shootdown.Cli;

/// <summary>
/// <c>shootdown calibrate</c>: run the calibration scenarios and set the model's figures beside
/// the published ones (docs/calibration.md). Exits 1 when a row leaves its tolerance.
/// </summary>
internal static class CalibrateCommand
{
    public static Command Create()
    {
        var scenarios = new Option<DirectoryInfo>("--scenarios")
        {
            Description = "The directory of calibration scenarios (default: scenarios/calibration, found above the current directory).",
        };
        var markdown = new Option<bool>("--markdown") { Description = "Print the table as docs/calibration.md holds it." };
        var fit = new Option<bool>("--fit") { Description = "Fit the free parameter (the interrupt path's scale) to its row, and print the costs it sets beside the model's defaults." };
        var sensitivity = new Option<bool>("--sensitivity")
        {
            Description = "Run every row again under each probe (a group of costs doubled, csd_lock_wait()'s misses overlapping) and print each row's model ÷ published.",
        };
        var command = new Command("calibrate", "Compare the model with published measurements (docs/calibration.md).") { scenarios, markdown, fit, sensitivity };
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(scenarios);
            if (dir is null && ShippedScenarios.Find("calibration") is { } shipped) dir = new DirectoryInfo(Path.Combine(shipped, "calibration"));
            if (dir is null || !dir.Exists)
            {
                Console.Error.WriteLine(dir is null
                    ? $"shootdown: no scenarios/calibration directory above {Directory.GetCurrentDirectory()}; give --scenarios DIR"
                    : $"shootdown: {dir.FullName}: no such directory");
                return 2;
            }
            if (parse.GetValue(fit))
            {
                var scale = CalibrationTable.FitInterruptPath(dir.FullName);
                var defaults = new Model.Costs.CostModel();
                var fitted = CalibrationTable.ScaleInterruptPath(defaults, scale);
                Console.Out.WriteLine($"interrupt path scale: {scale:0.000} (row 5a)");
                foreach (var (name, guess, _) in CalibrationTable.InterruptPathGuesses)
                    Console.Out.WriteLine($"  {name}: guess {guess}, fitted {Math.Round(guess * scale)}");
                if (fitted == defaults) return 0;
                Console.Error.WriteLine("shootdown: the model's defaults are not the fit: set them in src/Model/Costs/CostModel.cs");
                return 1;
            }
            var rows = CalibrationTable.Measure(dir.FullName);
            if (parse.GetValue(sensitivity))
            {
                var probes = CalibrationTable.Sensitivity(dir.FullName);
                if (parse.GetValue(markdown))
                {
                    Console.Out.Write(CalibrationTable.SensitivityMarkdown(rows, probes));
                    return 0;
                }
                var grid = new Table().Border(TableBorder.Rounded).AddColumn("probe");
                foreach (var r in rows) grid.AddColumn(new TableColumn(r.Id).RightAligned());
                grid.AddRow([Markup.Escape("(the table)"), .. rows.Select(r => r.RatioText)]);
                foreach (var (probe, probed) in probes)
                    grid.AddRow([Markup.Escape(probe), .. probed.Select(r => r.WithinTolerance ? r.RatioText : $"[red]{r.RatioText}[/]")]);
                AnsiConsole.Write(grid);
                return 0;
            }
            if (parse.GetValue(markdown))
            {
                Console.Out.Write(CalibrationTable.Markdown(rows));
            }
            else
            {
                var table = new Table().Border(TableBorder.Rounded).AddColumns("#", "use", "quantity", "published", "model", "model ÷ published", "tolerance", "");
                foreach (var r in rows)
                    table.AddRow(r.Id, r.UseText, Markup.Escape(r.Quantity), r.PublishedText, r.ModelText, r.RatioText, r.ToleranceText, r.WithinTolerance ? "[green]ok[/]" : "[red]out[/]");
                AnsiConsole.Write(table);
            }
            return rows.All(r => r.WithinTolerance) ? 0 : 1;
        });
        return command;
    }
}
