namespace Shootdown.Cli;

/// <summary>
/// Where the shipped scenarios are, for the commands that run them by name (bench, calibrate):
/// the first <c>scenarios</c> directory holding the file or folder asked for, above the current
/// directory (anywhere in a checkout) or above the program (a build or a package that carries them).
/// </summary>
internal static class ShippedScenarios
{
    public static string? Find(string holding)
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var candidate = Path.Combine(d.FullName, "scenarios");
                if (Path.Exists(Path.Combine(candidate, holding))) return candidate;
            }
        return null;
    }
}
