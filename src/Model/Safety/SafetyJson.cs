using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;
using Shootdown.Model.Topology;

namespace Shootdown.Model.Safety;

/// <summary>
/// The safety check's records in JSON, the form in which they cross from CPU grains to the run
/// grain (the model has no Orleans serializers, as for the simulation definition).
/// </summary>
public static class SafetyJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        Converters = { new JsonStringEnumConverter(), new CpuMaskConverter() },
    };

    public static string Retires(IEnumerable<TableRetire> retires) => JsonSerializer.Serialize(retires.ToArray(), Options);

    public static ImmutableArray<TableRetire> ReadRetires(string json) =>
        [.. JsonSerializer.Deserialize<TableRetire[]>(json, Options) ?? throw new JsonException("no retires")];

    public static string Cpu(CpuSafety safety) => JsonSerializer.Serialize(safety, Options);

    public static CpuSafety ReadCpu(string json) => JsonSerializer.Deserialize<CpuSafety>(json, Options) ?? throw new JsonException("no CPU safety");

    public static string Report(SafetyReport? report) => report is null ? "" : JsonSerializer.Serialize(report, Options);

    public static SafetyReport? ReadReport(string json) =>
        json.Length == 0 ? null : JsonSerializer.Deserialize<SafetyReport>(json, Options) ?? throw new JsonException("no safety report");

    private sealed class CpuMaskConverter : JsonConverter<CpuMask>
    {
        private sealed record Wire(int NrCpus, ulong[] Words);

        public override CpuMask Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var wire = JsonSerializer.Deserialize<Wire>(ref reader, options) ?? throw new JsonException("empty mask");
            return CpuMask.FromWords(wire.NrCpus, wire.Words);
        }

        public override void Write(Utf8JsonWriter writer, CpuMask value, JsonSerializerOptions options) =>
            JsonSerializer.Serialize(writer, new Wire(value.NrCpus, value.Words.ToArray()), options);
    }
}
