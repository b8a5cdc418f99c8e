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

    public static string ScenarioPath(string name) => Path.Combine(AppContext.BaseDirectory, "scenarios", name);
}
