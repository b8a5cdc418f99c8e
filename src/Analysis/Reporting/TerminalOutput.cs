using Spectre.Console;

namespace Shootdown.Analysis.Reporting;

/// <summary>
/// How tables and text reach standard output, for the CLI and for scripts alike. On a terminal:
/// colours, tables as wide as the terminal. Into a pipe or a file, or when asked for plain output:
/// no escape sequences and no wrapping, so that each line (a digest and its hash, a table row)
/// stays one line for grep and scripts, and no table is cut to a width nobody asked for.
/// </summary>
public static class TerminalOutput
{
    /// <summary>Wide enough that no table or line is ever wrapped.</summary>
    private const int UnwrappedWidth = 1 << 15;

    /// <summary>Whether output is plain: asked for, or not a terminal.</summary>
    public static bool Plain { get; private set; }

    public static void Configure(bool plain = false)
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
