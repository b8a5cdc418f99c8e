using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Shootdown.Scenarios;

/// <summary>
/// A path to one field of a scenario, as a sweep key or <c>--set</c> names it:
/// <c>machine.scale</c>, <c>operations[0].rate_per_s</c>. The same paths name fields in every
/// error message, so a user can copy one from an error into an override.
/// </summary>
internal sealed class YamlPath
{
    private readonly List<(string Name, int? Index)> _segments;

    private YamlPath(string text, List<(string Name, int? Index)> segments)
    {
        Text = text;
        _segments = segments;
    }

    public string Text { get; }

    /// <summary>The first field the path enters (<c>machine</c> for <c>machine.scale</c>).</summary>
    public string Top => _segments[0].Name;

    /// <summary>The parsed path, or null when <paramref name="text"/> is not one.</summary>
    public static YamlPath? TryParse(string text)
    {
        var segments = new List<(string, int?)>();
        foreach (var part in text.Split('.'))
        {
            var open = part.IndexOf('[');
            if (open < 0)
            {
                if (!IsName(part)) return null;
                segments.Add((part, null));
                continue;
            }
            var name = part[..open];
            if (!IsName(name) || !part.EndsWith(']') ||
                !int.TryParse(part.AsSpan(open + 1, part.Length - open - 2), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                return null;
            segments.Add((name, index));
        }
        return new YamlPath(text, segments);
    }

    public const string Example = "machine.scale or operations[0].rate_per_s";

    /// <summary>
    /// Puts <paramref name="value"/> at this path in <paramref name="document"/>. The last field
    /// may be new (a seed the file leaves to its default), and so may a mapping on the way
    /// (<c>platform.cpuidle</c> in a scenario with no <c>platform:</c>); a list item must exist.
    /// What is put in is read like the file's own, so a new field still has to be one the format
    /// knows. Returns why it could not, or null.
    /// </summary>
    public string? Set(YamlMappingNode document, YamlNode value)
    {
        YamlNode parent = document;
        var walked = "";
        for (var s = 0; s < _segments.Count; s++)
        {
            var (name, index) = _segments[s];
            walked = walked.Length == 0 ? name : $"{walked}.{name}";
            if (parent is not YamlMappingNode map) return $"'{walked}' is not inside a mapping in the scenario";
            var last = s == _segments.Count - 1;
            var keyNode = new YamlScalarNode(name);
            if (last && index is null)
            {
                map.Children[keyNode] = value;
                return null;
            }
            if (!map.Children.TryGetValue(keyNode, out var child))
            {
                if (index is not null) return $"the scenario has no '{walked}'";
                map.Children[keyNode] = child = new YamlMappingNode();
            }
            if (index is { } k)
            {
                if (child is not YamlSequenceNode seq || k >= seq.Children.Count) return $"the scenario has no '{walked}[{k}]'";
                if (last)
                {
                    seq.Children[k] = value;
                    return null;
                }
                child = seq.Children[k];
                walked += $"[{k}]";
            }
            parent = child;
        }
        return null;
    }

    /// <summary>Whether an error about <paramref name="field"/> is about this path's value or something inside it.</summary>
    public bool Covers(string field) =>
        field == Text || field.StartsWith(Text + ".", StringComparison.Ordinal) || field.StartsWith(Text + "[", StringComparison.Ordinal);

    private static bool IsName(string s) => s.Length > 0 && s.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_');
}
