namespace Shootdown.Scenarios;

/// <summary>
/// Reads an input file (scenario, include, topology) whole, refusing one over its size limit
/// before reading a byte, so a 2 GB file costs nothing. Problems go to <c>fail</c>, which
/// locates them: at the file itself, or at the field that named it.
/// </summary>
internal static class InputFiles
{
    /// <param name="what">What the file is, for the size message: "a scenario", "a topology file".</param>
    public static string ReadText(string path, long maxBytes, string what, Func<string, ScenarioException> fail)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw fail("no such file");
        if (info.Length > maxBytes) throw fail($"{info.Length:N0} bytes is larger than the {maxBytes:N0}-byte limit for {what}");
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw fail(e.Message);
        }
    }

    /// <summary>A problem with the file as a whole: line and column 0.</summary>
    public static Func<string, ScenarioException> AtFile(string path) => problem => new ScenarioException(path, 0, 0, "(file)", problem);
}
