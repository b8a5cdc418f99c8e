using System.Collections.Immutable;
using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Shootdown.Scenarios;

/// <summary>
/// <c>sweep:</c> varies parameters of the scenario it sits in. Each key is a path into the
/// scenario (<c>machine.scale</c>, <c>operations[0].rate_per_s</c>, <c>hugetlb_shares[0].processes</c>),
/// each value a list of values for it, or a range <c>{ from, to, step }</c> (arithmetic) or
/// <c>{ from, to, times }</c> (geometric). Several keys move in lockstep: point i sets every
/// path to its i-th value, so their lists must be equally long.
/// </summary>
internal sealed class Sweep
{
    public const int MaxPoints = 1000;

    private readonly string _file;
    private readonly List<Parameter> _parameters;

    /// <summary>One swept path: its text, its parsed segments, the sweep key that names it (for errors) and its values.</summary>
    private sealed record Parameter(string Path, List<(string Name, int? Index)> Segments, YamlNode KeyNode, List<YamlNode> Values);

    private Sweep(string file, List<Parameter> parameters)
    {
        _file = file;
        _parameters = parameters;
    }

    public int Count => _parameters[0].Values.Count;
    public ImmutableArray<string> Parameters => [.. _parameters.Select(p => p.Path)];

    /// <summary>The file's sweep, or null without one.</summary>
    public static Sweep? Read(YamlReader root)
    {
        var node = root.Find("sweep");
        if (node is null) return null;
        if (node is not YamlMappingNode map || map.Children.Count == 0)
            throw root.Error(node, "sweep", "must map parameter paths to lists of values, e.g. machine.scale: [512, 1024]");
        var parameters = new List<Parameter>();
        foreach (var (key, value) in map.Children)
        {
            var path = ((YamlScalarNode)key).Value!;
            var field = $"sweep.{path}";
            var segments = ParsePath(root, key, field, path);
            if (path.Split('.')[0].Split('[')[0] is "sweep" or "name")
                throw root.Error(key, field, "this field cannot be swept");
            var values = value switch
            {
                YamlSequenceNode seq => seq.Children.ToList(),
                YamlMappingNode range => Range(new YamlReader(root.File, range, field)),
                _ => throw root.Error(value, field, "must be a list of values or a range { from, to, step | times }"),
            };
            if (values.Count == 0) throw root.Error(value, field, "has no values");
            if (values.Count > MaxPoints) throw root.Error(value, field, $"{values.Count} points; a sweep has at most {MaxPoints}");
            if (parameters.Count > 0 && values.Count != parameters[0].Values.Count)
                throw root.Error(value, field, $"has {values.Count} values but {parameters[0].Path} has {parameters[0].Values.Count}; swept parameters move in lockstep");
            parameters.Add(new Parameter(path, segments, key, values));
        }
        return new Sweep(root.File, parameters);
    }

    /// <summary>Puts point <paramref name="i"/>'s values into <paramref name="document"/> (a fresh copy) and drops the sweep.</summary>
    public ImmutableArray<string> Apply(YamlMappingNode document, int i)
    {
        document.Children.Remove(new YamlScalarNode("sweep"));
        var root = new YamlReader(_file, document, "");
        var shown = ImmutableArray.CreateBuilder<string>(_parameters.Count);
        foreach (var (path, segments, key, values) in _parameters)
        {
            YamlNode parent = document;
            var walked = "";
            for (var s = 0; s < segments.Count; s++)
            {
                var (name, index) = segments[s];
                walked = walked.Length == 0 ? name : $"{walked}.{name}";
                if (parent is not YamlMappingNode map)
                    throw root.Error(key, $"sweep.{path}", $"'{walked}' is not inside a mapping in the scenario");
                var last = s == segments.Count - 1;
                var keyNode = new YamlScalarNode(name);
                if (last && index is null)
                {
                    map.Children[keyNode] = values[i];
                    break;
                }
                if (!map.Children.TryGetValue(keyNode, out var child))
                    throw root.Error(key, $"sweep.{path}", $"the scenario has no '{walked}' to vary");
                if (index is { } k)
                {
                    if (child is not YamlSequenceNode seq || k >= seq.Children.Count)
                        throw root.Error(key, $"sweep.{path}", $"the scenario has no '{walked}[{k}]'");
                    if (last)
                    {
                        seq.Children[k] = values[i];
                        break;
                    }
                    child = seq.Children[k];
                    walked += $"[{k}]";
                }
                parent = child;
            }
            shown.Add(Show(values[i]));
        }
        return shown.MoveToImmutable();
    }

    /// <summary>Runs a point's parse, naming the point in any error; errors in generated values point at the sweep key.</summary>
    public Scenario Located(int i, Func<Scenario> parse)
    {
        try
        {
            return parse();
        }
        catch (ScenarioException e)
        {
            var key = _parameters[0].KeyNode;
            var at = e.Line > 0 ? (e.File, e.Line, e.Column) : (_file, key.Start.Line, key.Start.Column);
            var point = string.Join(", ", _parameters.Select(p => $"{p.Path}={Show(p.Values[i])}"));
            throw new ScenarioException(at.Item1, at.Item2, at.Item3, e.Field, $"{e.Problem} (sweep point {i + 1}: {point})");
        }
    }

    private static List<(string Name, int? Index)> ParsePath(YamlReader root, YamlNode at, string field, string path)
    {
        var segments = new List<(string, int?)>();
        foreach (var part in path.Split('.'))
        {
            var open = part.IndexOf('[');
            if (open < 0)
            {
                if (!IsName(part)) throw root.Error(at, field, $"'{path}' is not a path like machine.scale or operations[0].rate_per_s");
                segments.Add((part, null));
                continue;
            }
            var name = part[..open];
            if (!IsName(name) || !part.EndsWith(']') ||
                !int.TryParse(part.AsSpan(open + 1, part.Length - open - 2), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                throw root.Error(at, field, $"'{path}' is not a path like machine.scale or operations[0].rate_per_s");
            segments.Add((name, index));
        }
        return segments;
    }

    private static bool IsName(string s) => s.Length > 0 && s.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_');

    private static List<YamlNode> Range(YamlReader r)
    {
        r.RejectUnknownKeys(["from", "to", "step", "times"]);
        var from = r.Number("from", -1e12, 1e12) ?? throw r.Error(r.Node, r.Field("from"), "is required");
        var to = r.Number("to", -1e12, 1e12) ?? throw r.Error(r.Node, r.Field("to"), "is required");
        var step = r.Number("step", 1e-9, 1e12);
        var times = r.Number("times", 1.000001, 1e6);
        if ((step is null) == (times is null)) throw r.Error(r.Node, r.Path, "give exactly one of step (arithmetic) or times (geometric)");
        if (to < from) throw r.Error("to", "must not be below from");
        if (times is not null && from <= 0) throw r.Error("from", "a geometric range starts above 0");
        var values = new List<YamlNode>();
        for (var v = from; v <= to * (1 + 1e-12); v = step is { } s ? v + s : v * times!.Value)
        {
            if (values.Count == MaxPoints) throw r.Error(r.Node, r.Path, $"more than {MaxPoints} points");
            values.Add(new YamlScalarNode(Math.Round(v, 9).ToString("R", CultureInfo.InvariantCulture)));
        }
        return values;
    }

    private static string Show(YamlNode value) => value switch
    {
        YamlScalarNode s => s.Value ?? "",
        YamlSequenceNode seq => $"[{string.Join(", ", seq.Children.Select(Show))}]",
        _ => "{…}",
    };
}
