using System.Text.Json;
using System.Text.Json.Serialization;
using Shootdown.Model.Costs;
using Shootdown.Model.Simulation;
using Shootdown.Model.Topology;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Kernel;

/// <summary>
/// Everything a run needs apart from the policy: the machine, costs, hardware features, workload,
/// seed and duration. It has a JSON form, so that a scenario however it was made (a YAML file
/// with includes and topology files, a sweep point, a C# script) reaches every silo whole.
/// </summary>
public sealed record SimulationDefinition(Machine Machine, CostModel Costs, MachineFeatures Features, WorkloadSpec Workload, ulong Seed, long DurationNs)
{
    /// <summary>The run of one policy; with <paramref name="ftrace"/>, its CPUs record tracepoints in that window.</summary>
    public SimulationSetup SetupFor(KernelPolicy policy, Tracing.FtraceWindow? ftrace = null) =>
        new(Machine, Costs, policy, Features, Workload, Seed, DurationNs) { Ftrace = ftrace };

    private static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter(), new MachineConverter() },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static SimulationDefinition FromJson(string json) =>
        JsonSerializer.Deserialize<SimulationDefinition>(json, Json) ?? throw new JsonException("empty simulation definition");

    public static string PolicyToJson(KernelPolicy policy) => JsonSerializer.Serialize(policy, Json);

    public static KernelPolicy PolicyFromJson(string json) =>
        JsonSerializer.Deserialize<KernelPolicy>(json, Json) ?? throw new JsonException("empty policy");

    /// <summary>A machine travels as its name and its per-CPU arrays; the receiver rebuilds the derived tables.</summary>
    private sealed class MachineConverter : JsonConverter<Machine>
    {
        private sealed record Wire(string Name, MachineLayout Layout);

        public override Machine Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var wire = JsonSerializer.Deserialize<Wire>(ref reader, options) ?? throw new JsonException("empty machine");
            return new Machine(wire.Name, wire.Layout);
        }

        public override void Write(Utf8JsonWriter writer, Machine value, JsonSerializerOptions options) =>
            JsonSerializer.Serialize(writer, new Wire(value.Name, value.Layout), options);
    }
}
