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

    /// <summary>
    /// The one error worth the line when the parser reports several: a token it did not recognise
    /// also makes it say that a required command or argument is missing, which only repeats the
    /// cause; the error naming the first unrecognised token is the cause.
    /// </summary>
    public static ParseError Primary(ParseResult parse)
    {
        var errors = parse.Errors;
        if (errors.Count > 1 && parse.UnmatchedTokens.Count > 0)
        {
            var token = parse.UnmatchedTokens[0];
            foreach (var error in errors)
                if (error.Message.Contains($"'{token}'", StringComparison.Ordinal)) return error;
        }
        return errors[0];
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
