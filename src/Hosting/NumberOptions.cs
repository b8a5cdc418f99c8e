using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Shootdown.Hosting;

/// <summary>
/// Numeric options with their range, parsed by System.CommandLine through each option's own
/// parser: text that is no number, or a number out of range, is a parse error naming the option
/// (one line, exit 2), never the conversion exception a validator would meet reading the value.
/// Used by the CLI and the silo host alike.
/// </summary>
public static class NumberOptions
{
    public static Option<int> Int(string name, string description, int fallback, int min, int max, string? expected = null) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => fallback,
        CustomParser = r => ParseInt(r, name, min, max, expected),
    };

    public static Option<int?> OptionalInt(string name, string description, int min, int max, string? expected = null) => new(name)
    {
        Description = description,
        CustomParser = r => ParseInt(r, name, min, max, expected),
    };

    /// <summary>A list of integers (<c>--cores 1 2 4</c>), each in range.</summary>
    public static Option<int[]> Ints(string name, string description, int min, int max, string? expected = null) => new(name)
    {
        Description = description,
        AllowMultipleArgumentsPerToken = true,
        CustomParser = r => r.Tokens.Select(t => Int(r, name, t.Value, min, max, expected)).ToArray(),
    };

    public static Option<double> Double(string name, string description, double fallback, double min, double max) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => fallback,
        CustomParser = r => ParseDouble(r, name, min, max),
    };

    public static Option<double?> OptionalDouble(string name, string description, double min, double max) => new(name)
    {
        Description = description,
        CustomParser = r => ParseDouble(r, name, min, max),
    };

    public static Option<int> Port(string name, string description, int fallback) => Int(name, description, fallback, 1, 65535, "a port number (1-65535)");

    public static Option<int?> OptionalPort(string name, string description) => OptionalInt(name, description, 1, 65535, "a port number (1-65535)");

    private static int ParseInt(ArgumentResult r, string name, int min, int max, string? expected) =>
        Int(r, name, r.Tokens.Count == 1 ? r.Tokens[0].Value : "", min, max, expected);

    private static int Int(ArgumentResult r, string name, string text, int min, int max, string? expected)
    {
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max) return v;
        r.AddError($"{name} must be {expected ?? Range(min, max)}, not '{text}'");
        return 0;
    }

    private static double ParseDouble(ArgumentResult r, string name, double min, double max)
    {
        var text = r.Tokens.Count == 1 ? r.Tokens[0].Value : "";
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) && v >= min && v <= max) return v;
        r.AddError($"{name} must be a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}, not '{text}'");
        return 0;
    }

    private static string Range(int min, int max) => max == int.MaxValue
        ? $"a whole number of at least {min.ToString(CultureInfo.InvariantCulture)}"
        : $"a whole number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}";
}
