using System.CommandLine;
using Shootdown.Analysis.Reporting;

namespace Shootdown.Cli;

/// <summary>
/// The CLI's <c>--plain</c>: what it asks of standard output is <see cref="TerminalOutput"/>'s
/// (on a terminal, colours and a progress bar; into a pipe or a file, or with it, neither, and no wrapping).
/// </summary>
public static class ConsoleOutput
{
    public static Option<bool> PlainOption { get; } = new("--plain")
    {
        Description = "Plain output for scripts: no colours, no progress bar, no wrapping (the default when output is not a terminal).",
        Recursive = true,
    };
}
