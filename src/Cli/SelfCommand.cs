namespace Shootdown.Cli;

/// <summary>How a person types this program again, for the commands a hint suggests.</summary>
internal static class SelfCommand
{
    /// <summary><c>shootdown</c> where PATH finds it (the installed tool), else this program's own path.</summary>
    public static string Invocation()
    {
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, "shootdown")));
        if (onPath) return "shootdown";
        var process = Environment.ProcessPath!;
        return Path.GetFileNameWithoutExtension(process) == "shootdown" ? process : $"{process} {typeof(SelfCommand).Assembly.Location}";
    }
}
