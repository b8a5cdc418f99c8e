using System.CommandLine;
using Spectre.Console;

namespace Shootdown.Cli;

/// <summary>
/// How the CLI writes to standard output. On a terminal: colours, a progress bar, tables as wide
/// as the terminal. Into a pipe or a file, or with <c>--plain</c>: no escape sequences, no
/// progress bar, and no wrapping, so that each line (a digest and its hash, a table row) stays
/// one line for grep and scripts.
/// </summary>
public static class ConsoleOutput
{
    /// <summary>Wide enough that no table or line the CLI prints is ever wrapped.</summary>
    private const int UnwrappedWidth = 1 << 15;

    public static Option<bool> PlainOption { get; } = new("--plain")
    {
        Description = "Plain output for scripts: no colours, no progress bar, no wrapping (the default when output is not a terminal).",
        Recursive = true,
    };

    /// <summary>Whether output is plain: asked for, or not a terminal.</summary>
    public static bool Plain { get; private set; }

    public static void Configure(bool plain)
    {
        Plain = plain || Console.IsOutputRedirected;
        if (!Plain) return;
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(Console.Out),
        });
        AnsiConsole.Console.Profile.Width = UnwrappedWidth;
    }
}
