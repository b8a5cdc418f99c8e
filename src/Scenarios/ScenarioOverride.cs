using YamlDotNet.RepresentationModel;

namespace Shootdown.Scenarios;

/// <summary>
/// <c>--set PATH=VALUE</c>: one scenario field replaced from the command line before the
/// scenario is read, so the value passes the same schema and the same checks as in the file.
/// <paramref name="Argument"/> is the option as the user typed it, named in any error.
/// VALUE is YAML (<c>[0, 1]</c>, <c>{ spec: "pack:2 core:4" }</c>); <c>--seed S</c> and
/// <c>--duration T</c> are <c>--set seed=S</c> and <c>--set duration_us=…</c>.
/// </summary>
public sealed record ScenarioOverride(string Path, string Value, string Argument)
{
    public override string ToString() => $"{Path}={Value}";

    /// <summary>Reads <c>PATH=VALUE</c>; a malformed one is a <see cref="ScenarioException"/> naming the argument.</summary>
    public static ScenarioOverride Parse(string text, string option = "--set")
    {
        var argument = $"{option} {text}";
        var equals = text.IndexOf('=');
        if (equals <= 0) throw ScenarioException.InArgument(argument, "(argument)", $"expected PATH=VALUE, a path like {YamlPath.Example}");
        var path = text[..equals];
        if (YamlPath.TryParse(path) is not { } target)
            throw ScenarioException.InArgument(argument, "(argument)", $"'{TerminalText.Escape(path)}' is not a path like {YamlPath.Example}");
        if (target.Top is "sweep" or "name")
            throw ScenarioException.InArgument(argument, path, "this field cannot be set from the command line");
        return new ScenarioOverride(path, text[(equals + 1)..], argument);
    }

    /// <summary><c>--seed S</c>: the scenario's seed, checked as the file's would be.</summary>
    public static ScenarioOverride Seed(string text) => new("seed", text, $"--seed {text}");

    /// <summary>
    /// <c>--duration T</c> with a unit (ns, us or µs, ms, s), as <c>duration_us</c>: a bare number
    /// is refused, since perf counts seconds and the scenario microseconds.
    /// </summary>
    public static ScenarioOverride Duration(string text)
    {
        var argument = $"--duration {text}";
        var units = new (string Suffix, double Us)[] { ("ns", 1e-3), ("us", 1), ("µs", 1), ("ms", 1e3), ("s", 1e6) };
        foreach (var (suffix, us) in units)
        {
            if (!text.EndsWith(suffix, StringComparison.Ordinal)) continue;
            var number = text[..^suffix.Length];
            // "ms" also ends in "s": the longer unit is tried first, and a bare "m" is no number.
            if (double.TryParse(number, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) && double.IsFinite(v))
                return new("duration_us", (v * us).ToString("R", System.Globalization.CultureInfo.InvariantCulture), argument);
        }
        throw ScenarioException.InArgument(argument, "duration_us", "expected a number with a unit: ns, us (or µs), ms or s, as in 200ms");
    }

    /// <summary>Puts every override into <paramref name="document"/>, in order (a later one wins).</summary>
    internal static void Apply(IReadOnlyList<ScenarioOverride> overrides, YamlMappingNode document, IReadOnlyCollection<string> swept)
    {
        foreach (var o in overrides)
        {
            if (swept.Contains(o.Path))
                throw ScenarioException.InArgument(o.Argument, o.Path, "this path is swept by the scenario's sweep; set another field, or edit the sweep");
            var value = ParseValue(o);
            if (YamlPath.TryParse(o.Path)!.Set(document, value) is { } problem) throw ScenarioException.InArgument(o.Argument, o.Path, problem);
        }
    }

    /// <summary>
    /// Runs the scenario's parse; an error about an overridden field (or inside it) names the
    /// argument that set it rather than a line of the file, where that value is not.
    /// </summary>
    internal static T Located<T>(IReadOnlyList<ScenarioOverride> overrides, Func<T> parse)
    {
        try
        {
            return parse();
        }
        catch (ScenarioException e) when (overrides.LastOrDefault(o => YamlPath.TryParse(o.Path)!.Covers(e.Field)) is { } cause)
        {
            throw ScenarioException.InArgument(cause.Argument, e.Field, e.Problem);
        }
    }

    private static YamlNode ParseValue(ScenarioOverride o)
    {
        try
        {
            // A plain VALUE is one scalar; YAML's flow syntax gives lists and mappings.
            return YamlReader.LoadRoot(o.Argument, o.Value.Length == 0 ? "''" : o.Value);
        }
        catch (ScenarioException e)
        {
            throw ScenarioException.InArgument(o.Argument, o.Path, $"the value is not YAML: {e.Problem}");
        }
    }
}
