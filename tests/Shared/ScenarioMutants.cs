namespace Shootdown.Tests;

/// <summary>Malformed scenarios made by mutating a good one, for the parser's tests and the CLI's.</summary>
internal static class ScenarioMutants
{
    private static readonly string GoodScenario = File.ReadAllText(Sim.ScenarioPath("small-64.yaml"));

    private static readonly string[] BadValues = ["-1", "abc", "5-3", "0-99999", "", "[", "{x", "&a x", "1e400", "*a", "0x10", "\"", "? x", "- 1"];

    /// <summary>Every line of the scenario deleted, duplicated, or with its value replaced by each bad value.</summary>
    public static IEnumerable<(string Name, string Text)> All()
    {
        var lines = GoodScenario.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].TrimStart().StartsWith('#') || lines[i].Trim().Length == 0) continue;
            yield return ($"delete line {i + 1}", string.Join('\n', lines.Where((_, j) => j != i)));
            yield return ($"duplicate line {i + 1}", string.Join('\n', lines.Take(i + 1).Append(lines[i]).Concat(lines.Skip(i + 1))));
            var colon = lines[i].IndexOf(": ", StringComparison.Ordinal);
            if (colon < 0) continue;
            foreach (var bad in BadValues)
            {
                var copy = (string[])lines.Clone();
                copy[i] = lines[i][..(colon + 2)] + bad;
                yield return ($"line {i + 1} = '{bad}'", string.Join('\n', copy));
            }
        }
    }

    public static string ReplaceNth(string s, string find, string replace, int n)
    {
        var at = -1;
        for (var i = 0; i <= n; i++) at = s.IndexOf(find, at + 1, StringComparison.Ordinal);
        return at < 0 ? throw new ArgumentException($"'{find}' not found") : s[..at] + replace + s[(at + find.Length)..];
    }
}
