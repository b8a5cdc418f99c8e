using System.Collections.Immutable;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Shootdown.Scenarios;

namespace Shootdown.Analysis.Reporting;

/// <summary>
/// What a result was made from, so that anyone can make it again: the tool's version and commit,
/// the command line with its overrides, and a SHA-256 of the scenario's whole definition (machine,
/// costs, platform, workload, seed, duration) as the engines read it.
/// </summary>
public sealed record Provenance(string CommandLine, ImmutableArray<ScenarioOverride> Overrides)
{
    /// <summary>
    /// results.json's format: 2 added this provenance, replicates and their summary, rates, and
    /// null percentiles where the samples cannot support them. 3 names csds, IPIs and interrupts
    /// apart: a policy's <c>total_ipis</c> (which counted csds) became <c>csds_queued</c>, beside
    /// the new <c>ipis_received</c> (and each CPU's), and the summary's <c>ipis_sent</c> became <c>csds_queued</c>.
    /// </summary>
    public const int FormatVersion = 3;

    /// <summary>This process's command line, as typed after the program's name.</summary>
    public static Provenance OfThisProcess(ImmutableArray<ScenarioOverride> overrides) =>
        new(string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(Quote).Prepend("shootdown")), overrides.IsDefault ? [] : overrides);

    /// <summary>For results made inside a program (a script, a test) rather than by the CLI.</summary>
    public static readonly Provenance InProcess = new("", []);

    private static readonly string InformationalVersion =
        typeof(Provenance).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>The version, without the commit the SDK appends after a '+'.</summary>
    public static string Version => InformationalVersion.Split('+')[0];

    /// <summary>The commit this build was made from, when the build knew it.</summary>
    public static string? Commit => InformationalVersion.IndexOf('+') is var plus and >= 0 ? InformationalVersion[(plus + 1)..] : null;

    /// <summary>The build as a report names it: "0.1.0, commit 1a2b3c4d5e6f".</summary>
    public static string Build => Commit is { } c ? $"{Version}, commit {c[..Math.Min(12, c.Length)]}" : Version;

    public static string DefinitionHash(Scenario scenario) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(scenario.Definition.ToJson())));

    private static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,@+%".Contains(c)) ? arg : $"'{arg.Replace("'", "'\\''")}'";
}
