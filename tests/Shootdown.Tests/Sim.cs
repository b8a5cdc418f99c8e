using System.Diagnostics;
using Shootdown.Engine;
using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>Helpers to run small scenarios written inline.</summary>
internal static class Sim
{
    public static Scenario Parse(string yaml) => ScenarioLoader.Parse("inline.yaml", yaml);

    public static PolicyResult Run(string yaml, KernelPolicy policy) =>
        new ReferenceEngine(Parse(yaml).SetupFor(policy)).Run();

    /// <summary>Every policy the scenario lists, on the reference engine, by policy name.</summary>
    public static Dictionary<string, PolicyResult> RunEveryPolicy(Scenario scenario) =>
        scenario.Policies.ToDictionary(p => p.Name, p => new ReferenceEngine(scenario.SetupFor(p)).Run());

    public static string ScenarioPath(string name) => Path.Combine(AppContext.BaseDirectory, "scenarios", name);

    public static string TopologyPath(string name) => Path.Combine(AppContext.BaseDirectory, "topologies", name);

    public static string TempDir() => Directory.CreateTempSubdirectory("shootdown-test-").FullName;

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
