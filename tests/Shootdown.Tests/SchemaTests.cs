using System.Text.Json;
using Shootdown.Scenarios;

namespace Shootdown.Tests;

/// <summary>The JSON Schema editors use lists exactly the fields the loader accepts.</summary>
public sealed class SchemaTests
{
    private static readonly JsonElement Schema = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "schema", "scenario.schema.json"))).RootElement;

    private static string[] Properties(JsonElement e) => e.GetProperty("properties").EnumerateObject().Select(p => p.Name).Order().ToArray();
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
    }

    [Fact]
    public void SchemaEnumsMatchTheModel()
    {
        var presets = Def("machine").GetProperty("properties").GetProperty("preset").GetProperty("enum").EnumerateArray().Select(e => e.GetString());
        Assert.Equal(Shootdown.Model.Topology.Presets.All.Select(p => p.Name), presets);
        var policies = Schema.GetProperty("properties").GetProperty("policies").GetProperty("items").GetProperty("enum").EnumerateArray().Select(e => e.GetString());
        Assert.Equal(Shootdown.Model.Kernel.KernelPolicy.BuiltIn.Select(p => p.Name), policies);
    }

    [Fact]
    public void ShippedScenariosPointEditorsAtTheSchema()
    {
        foreach (var path in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "scenarios"), "*.yaml", SearchOption.AllDirectories))
            Assert.StartsWith("# yaml-language-server: $schema=", File.ReadLines(path).First());
    }
}
