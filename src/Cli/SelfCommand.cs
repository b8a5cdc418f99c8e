namespace Shootdown.Cli;

/// <summary>How a person types this program again, for the commands a hint suggests.</summary>
internal static class SelfCommand
{
    /// <summary>This program as a child process starts it: its apphost, or dotnet and its assembly.</summary>
    public static string[] Argv =>
        Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "shootdown"
            ? [Environment.ProcessPath!]
            : [Environment.ProcessPath!, typeof(SelfCommand).Assembly.Location];

    /// <summary><c>shootdown</c> where PATH finds it (the installed tool), else this program's own path.</summary>
    public static string Invocation()
    {
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, "shootdown")));
        return onPath ? "shootdown" : string.Join(' ', Argv);
    }
}
