using System.CommandLine;
using Shootdown.Analysis.Reporting;

namespace Shootdown.Cli;

/// <summary>
/// How the CLI writes to standard output (<see cref="TerminalOutput"/>): on a terminal, colours
/// and a progress bar; into a pipe or a file, or with <c>--plain</c>, neither, and no wrapping.
/// </summary>
public static class ConsoleOutput
{
    public static Option<bool> PlainOption { get; } = new("--plain")
    {
        Description = "Plain output for scripts: no colours, no progress bar, no wrapping (the default when output is not a terminal).",
        Recursive = true,
    };

    /// <summary>Whether output is plain: asked for, or not a terminal.</summary>
    public static bool Plain => TerminalOutput.Plain;

    public static void Configure(bool plain) => TerminalOutput.Configure(plain);
}
