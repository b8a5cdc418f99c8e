using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.RegularExpressions;

namespace Shootdown.Silo;

/// <summary>
/// A System.CommandLine parse error as one line that names its option: some of the library's
/// own messages span lines ("Must be one of:" then a line per value) and leave the option out.
/// </summary>
public static partial class ParseErrors
{
    public static string OneLine(ParseError error)
    {
        var message = Whitespace().Replace(error.Message, " ").Trim();
        return error.SymbolResult is OptionResult { Option.Name: var name } && !message.StartsWith(name, StringComparison.Ordinal)
            ? $"{name}: {message}"
            : message;
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
