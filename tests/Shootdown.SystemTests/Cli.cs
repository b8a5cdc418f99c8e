using System.Diagnostics;

namespace Shootdown.Tests;

/// <summary>The shootdown CLI, and dotnet, in child processes, as a user runs them.</summary>
internal static class Cli
{
    /// <summary>The shootdown CLI in a child process, as a user runs it.</summary>
    public static (int Exit, string Out, string Err) Shootdown(params string[] args) =>
        Dotnet(AppContext.BaseDirectory, [Path.Combine(AppContext.BaseDirectory, "shootdown.dll"), .. args], null);

    /// <summary>The shootdown CLI in a child process with extra environment variables.</summary>
    public static (int Exit, string Out, string Err) DotnetWithEnvironment(Dictionary<string, string> environment, params string[] args) =>
        Dotnet(AppContext.BaseDirectory, [Path.Combine(AppContext.BaseDirectory, "shootdown.dll"), .. args], environment);

    /// <summary><c>dotnet ARGS</c> in a child process, with its exit code and output.</summary>
    public static (int Exit, string Out, string Err) Dotnet(string workingDirectory, string[] args, Dictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? []) psi.Environment[name] = value;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) p.Kill(entireProcessTree: true);
        p.WaitForExit();
        return (p.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }
}
