using System.Text.Json;
using System.Text.Json.Serialization;

namespace Shootdown.Analysis.Reporting;

/// <summary>
/// The model's names as a user reads them, wherever they are printed (results.json, the HTML
/// report, <c>shootdown policies</c>): snake_case fields and values, as the scenario YAML spells
/// them, never the C# spelling (<c>when_flush_implies_ipi_broadcast</c>, not <c>WhenFlushImpliesIpiBroadcast</c>).
/// </summary>
public static class UserNames
{
    /// <summary>For files a user keeps (results.json): indented.</summary>
    public static readonly JsonSerializerOptions IndentedJson = Options(indented: true);

    /// <summary>For one line in a report.</summary>
    public static readonly JsonSerializerOptions Json = Options(indented: false);

    public static string Of<T>(T value) where T : struct, Enum => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    private static JsonSerializerOptions Options(bool indented) => new()
    {
        WriteIndented = indented,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };
}
