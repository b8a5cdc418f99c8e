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

    /// <summary>The shootdown CLI in a child process, with <paramref name="input"/> written to its standard input (a pipe).</summary>
    public static (int Exit, string Out, string Err) ShootdownWithInput(string input, params string[] args) =>
        Dotnet(AppContext.BaseDirectory, [Path.Combine(AppContext.BaseDirectory, "shootdown.dll"), .. args], null, input);

    /// <summary><c>dotnet ARGS</c> in a child process, with its exit code and output.</summary>
    public static (int Exit, string Out, string Err) Dotnet(string workingDirectory, string[] args, Dictionary<string, string>? environment = null, string? input = null) =>
        Run("dotnet", args, workingDirectory, environment, input);

    /// <summary><paramref name="program"/> in a child process, with its exit code and output.</summary>
    public static (int Exit, string Out, string Err) Run(string program, string[] args, string? workingDirectory = null, Dictionary<string, string>? environment = null, string? input = null)
    {
        var psi = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input is not null,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? []) psi.Environment[name] = value;
        using var p = Process.Start(psi)!;
        if (input is not null)
        {
            // Written while the child reads; a child that stops reading (over its byte cap) closes the pipe.
            _ = Task.Run(() =>
            {
                try
                {
                    p.StandardInput.Write(input);
                    p.StandardInput.Close();
                }
                catch (IOException)
                {
                }
            });
        }
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) p.Kill(entireProcessTree: true);
        p.WaitForExit();
        return (p.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }
}
