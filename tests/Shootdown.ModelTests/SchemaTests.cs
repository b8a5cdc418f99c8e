using System.Text.Json;
using Shootdown.Scenarios;
using Shootdown.Model.Costs;

namespace Shootdown.Tests;

/// <summary>The JSON Schema editors use lists exactly the fields the loader accepts.</summary>
public sealed class SchemaTests
{
    private static readonly JsonElement Schema = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "schema", "scenario.schema.json"))).RootElement;

    private static string[] Properties(JsonElement e) => e.GetProperty("properties").EnumerateObject().Select(p => p.Name).Order().ToArray();
    private static IEnumerable<string?> Enum(JsonElement def, string property) =>
        def.GetProperty("properties").GetProperty(property).GetProperty("enum").EnumerateArray().Select(e => e.GetString());

    private static JsonElement Def(string name) => Schema.GetProperty("$defs").GetProperty(name);

    [Fact]
    public void SchemaAndLoaderAgreeOnEveryField()
    {
        Assert.Equal(ScenarioLoader.Fields.Order(), Properties(Schema));
        Assert.Equal(ScenarioLoader.ProcessFields.Order(), Properties(Def("process")));
        Assert.Equal(ScenarioLoader.OperationFields.Order(), Properties(Def("operation")));
        Assert.Equal(ScenarioLoader.IrqOffFields.Order(), Properties(Def("irqsOff")));
        Assert.Equal(ScenarioLoader.HugetlbShareFields.Order(), Properties(Def("hugetlbShare")));
        Assert.Equal(ScenarioLoader.CostFieldNames.Order(), Properties(Def("costs")));
        Assert.Equal(MachineSection.Fields.Order(), Properties(Def("machine")));
        Assert.Equal(PlatformSection.Fields.Order(), Properties(Def("platform")));
        Assert.Equal(KernelConfigSection.Fields.Order(), Properties(Def("kernelConfig")));
        Assert.Equal(ScenarioLoader.WalkerFields.Order(), Properties(Def("walker")));
        Assert.Equal(ScenarioLoader.StealTimeFields.Order(), Properties(Def("stealTime")));
    }

    [Fact]
    public void SchemaEnumsMatchTheModel()
    {
        var presets = Def("machine").GetProperty("properties").GetProperty("preset").GetProperty("enum").EnumerateArray().Select(e => e.GetString());
        Assert.Equal(Shootdown.Model.Costs.Presets.All.Select(p => p.Name), presets);
        var policies = Schema.GetProperty("properties").GetProperty("policies").GetProperty("items").GetProperty("enum").EnumerateArray().Select(e => e.GetString());
        Assert.Equal(Shootdown.Model.Kernel.KernelPolicy.BuiltIn.Select(p => p.Name), policies);
        Assert.Equal(Shootdown.Model.Workload.OpTypeNames.Scenario.Names, Enum(Def("operation"), "type"));
        Assert.Equal(Shootdown.Model.Workload.WalkerKinds.Scenario.Names, Enum(Def("walker"), "kind"));
    }

    [Fact]
    public void ShippedScenariosPointEditorsAtTheSchema()
    {
        foreach (var path in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "scenarios"), "*.yaml", SearchOption.AllDirectories))
            Assert.StartsWith("# yaml-language-server: $schema=", File.ReadLines(path).First());
    }
}
