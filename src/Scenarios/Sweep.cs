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
    private sealed record Parameter(string Path, YamlPath Target, YamlNode KeyNode, List<YamlNode> Values);

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
            var target = YamlPath.TryParse(path) ?? throw root.Error(key, field, $"'{path}' is not a path like {YamlPath.Example}");
            if (target.Top is "sweep" or "name")
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
            parameters.Add(new Parameter(path, target, key, values));
        }
        return new Sweep(root.File, parameters);
    }

    /// <summary>Puts point <paramref name="i"/>'s values into <paramref name="document"/> (a fresh copy) and drops the sweep.</summary>
    public ImmutableArray<string> Apply(YamlMappingNode document, int i)
    {
        document.Children.Remove(new YamlScalarNode("sweep"));
        var root = new YamlReader(_file, document, "");
        var shown = ImmutableArray.CreateBuilder<string>(_parameters.Count);
        foreach (var (path, target, key, values) in _parameters)
        {
            if (target.Set(document, values[i]) is { } problem) throw root.Error(key, $"sweep.{path}", problem);
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
