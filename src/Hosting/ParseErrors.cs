using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.RegularExpressions;

namespace Shootdown.Hosting;

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

    /// <summary>
    /// The line for a command line that did not parse, with what the user probably meant, as git
    /// and dotnet suggest it: an option the command does not have (which the parser would
    /// otherwise take as an argument and blame the next word for) is named first, with the
    /// command's nearest options; an unrecognised word, with the nearest subcommands.
    /// </summary>
    public static string Describe(ParseResult parse)
    {
        var path = Path(parse.CommandResult);
        static IEnumerable<string> Names(Option o) => o.Aliases.Prepend(o.Name);
        var options = path.SelectMany(c => c.Options).ToList();
        var known = options.SelectMany(Names).ToHashSet(StringComparer.Ordinal);
        // A hidden option is known but never suggested.
        var suggested = options.Where(o => !o.Hidden).SelectMany(Names).ToList();
        foreach (var token in parse.Tokens)
        {
            if (token.Type == TokenType.DoubleDash) break;
            var word = token.Value.Split('=', 2)[0];
            // "-" is standard input, "-5" a number: neither is an option.
            if (word.Length < 2 || word[0] != '-' || char.IsDigit(word[1]) || known.Contains(word)) continue;
            return $"{path[^1].Name} has no option '{word}'{Nearest(word, suggested)}";
        }
        var line = OneLine(Primary(parse));
        var nearest = parse.UnmatchedTokens.Count == 0 ? ""
            : Nearest(parse.UnmatchedTokens[0], parse.CommandResult.Command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name));
        return nearest == "" ? line : line.TrimEnd('.') + nearest;
    }

    /// <summary>The commands from the root to <paramref name="command"/>, whose options all apply to it.</summary>
    private static List<Command> Path(CommandResult command)
    {
        var path = new List<Command>();
        for (SymbolResult? r = command; r is not null; r = r.Parent)
            if (r is CommandResult c) path.Insert(0, c.Command);
        return path;
    }

    /// <summary>
    /// "; did you mean 'run'?" for the names within a small edit distance of <paramref name="word"/>,
    /// nearest first; "" for none. Here rather than System.CommandLine's own: its typo corrections
    /// are internal to the error action that prints them with the help, and never look at options
    /// the parser took for arguments.
    /// </summary>
    private static string Nearest(string word, IEnumerable<string> names)
    {
        var limit = word.Length <= 4 ? 1 : 2;
        var near = names.Distinct().Select(n => (Name: n, Distance: EditDistance(word, n)))
            .Where(n => n.Distance <= limit || (word.Length >= 3 && n.Name.StartsWith(word, StringComparison.Ordinal)))
            .OrderBy(n => n.Distance).ThenBy(n => n.Name, StringComparer.Ordinal).Take(3).Select(n => $"'{n.Name}'").ToList();
        return near.Count == 0 ? "" : $"; did you mean {string.Join(" or ", near)}?";
    }

    /// <summary>Edits (insert, delete, substitute, swap two neighbours) from one word to the other (the optimal string alignment distance).</summary>
    private static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
            {
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
