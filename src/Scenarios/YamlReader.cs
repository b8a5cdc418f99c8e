using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Shootdown.Scenarios;

/// <summary>
/// Strict, located access to a YAML mapping: every read names its field, every error carries
/// file, line and column, and keys nobody read are reported as unknown.
/// </summary>
internal sealed class YamlReader
{
    private readonly string _file;
    private readonly YamlMappingNode _map;
    private readonly string _path;

    public YamlReader(string file, YamlMappingNode map, string path)
    {
        _file = file;
        _map = map;
        _path = path;
        var seen = new HashSet<string>();
        foreach (var key in map.Children.Keys)
        {
            var name = (key as YamlScalarNode)?.Value ?? throw Error(key, Field("?"), "keys must be plain names");
            if (!seen.Add(name)) throw Error(key, Field(name), "appears twice");
        }
    }

    public static YamlMappingNode LoadDocument(string file, string text)
    {
        var root = LoadRoot(file, text);
        return root as YamlMappingNode ?? throw new ScenarioException(file, root.Start.Line, root.Start.Column, "(root)", "a scenario is a mapping of fields");
    }

    /// <summary>The single document's root node, whatever its shape; anchors and aliases refused.</summary>
    public static YamlNode LoadRoot(string file, string text)
    {
        var stream = new YamlStream();
        var parser = new Parser(new StringReader(text));
        try
        {
            RejectDeepNesting(file, parser);
            parser = new Parser(new StringReader(text));
            stream.Load(parser);
        }
        catch (YamlException e)
        {
            var message = e.InnerException?.Message ?? e.Message;
            var colon = message.LastIndexOf("): ", StringComparison.Ordinal);
            throw new ScenarioException(file, e.Start.Line, e.Start.Column, "(yaml)", colon >= 0 ? message[(colon + 3)..] : message);
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner can fail this way on some malformed flow collections ("key: [" then
            // more lines); the last event it parsed is as close to the fault as it can say.
            var at = parser.Current?.End ?? Mark.Empty;
            throw new ScenarioException(file, Math.Max(1, at.Line), Math.Max(1, at.Column), "(yaml)", "malformed YAML after this point (an unclosed [ or { ?)");
        }
        if (stream.Documents.Count != 1)
            throw new ScenarioException(file, 1, 1, "(yaml)", $"expected one YAML document, found {stream.Documents.Count}");
        var root = stream.Documents[0].RootNode;
        RejectAliases(file, root);
        return root;
    }

    /// <summary>How deep mappings and sequences may nest: a scenario needs five or six levels.</summary>
    public const int MaxDepth = 64;

    /// <summary>
    /// A first pass over the parser's events, before any node is built: YamlDotNet builds nested
    /// nodes recursively, so 60 KB of '[' would overflow the stack rather than fail here.
    /// </summary>
    private static void RejectDeepNesting(string file, IParser parser)
    {
        var depth = 0;
        while (parser.MoveNext())
        {
            switch (parser.Current)
            {
                case MappingStart or SequenceStart when ++depth > MaxDepth:
                    var at = parser.Current.Start;
                    throw new ScenarioException(file, at.Line, at.Column, "(yaml)", $"mappings and sequences nested more than {MaxDepth} deep");
                case MappingEnd or SequenceEnd:
                    depth--;
                    break;
            }
        }
    }

    /// <summary>Anchors and aliases are refused outright: they buy nothing here and invite alias bombs.</summary>
    private static void RejectAliases(string file, YamlNode root)
    {
        var stack = new Stack<YamlNode>();
        stack.Push(root);
        var visited = 0;
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            if (++visited > 1_000_000) throw new ScenarioException(file, node.Start.Line, node.Start.Column, "(yaml)", "more than 1,000,000 nodes");
            if (!node.Anchor.IsEmpty)
                throw new ScenarioException(file, node.Start.Line, node.Start.Column, "(yaml)", $"anchors and aliases (&{node.Anchor.Value}) are not supported");
            switch (node)
            {
                case YamlMappingNode m:
                    foreach (var kv in m.Children) { stack.Push(kv.Key); stack.Push(kv.Value); }
                    break;
                case YamlSequenceNode s:
                    foreach (var c in s.Children) stack.Push(c);
                    break;
            }
        }
    }

    public string File => _file;
    public YamlMappingNode Node => _map;
    public string Path => _path;

    public string Field(string key) => _path.Length == 0 ? key : $"{_path}.{key}";

    public ScenarioException Error(YamlNode node, string field, string problem) =>
        new(_file, node.Start.Line, node.Start.Column, field, problem);

    public ScenarioException Error(string key, string problem) =>
        Error(Find(key) ?? _map, Field(key), problem);

    public YamlNode? Find(string key)
    {
        return _map.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;
    }

    public bool Has(string key) => _map.Children.ContainsKey(new YamlScalarNode(key));

    public YamlNode Required(string key) =>
        Find(key) ?? throw Error(_map, Field(key), "is required");

    public string? String(string key)
    {
        var node = Find(key);
        if (node is null) return null;
        if (node is not YamlScalarNode s || s.Value is null) throw Error(node, Field(key), "must be a string");
        foreach (var c in s.Value)
            if (TerminalText.IsControl(c))
                throw Error(node, Field(key), $"contains the control character U+{(int)c:X4}; names and descriptions are printed on terminals");
        return s.Value;
    }

    public string RequiredString(string key) => String(key) ?? throw Error(_map, Field(key), "is required");

    public double? Number(string key, double min, double max)
    {
        var node = Find(key);
        if (node is null) return null;
        if (node is not YamlScalarNode { Value: { } text } ||
            !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
            throw Error(node, Field(key), "must be a number");
        if (v < min || v > max) throw Error(node, Field(key), $"{text} is out of range: expected {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}");
        return v;
    }

    public long? Integer(string key, long min, long max)
    {
        var node = Find(key);
        if (node is null) return null;
        if (node is not YamlScalarNode { Value: { } text } ||
            !long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
            throw Error(node, Field(key), "must be a whole number");
        if (v < min || v > max) throw Error(node, Field(key), $"{v} is out of range: expected {min} to {max}");
        return v;
    }

    public bool? Boolean(string key)
    {
        var node = Find(key);
        if (node is null) return null;
        return node is YamlScalarNode { Value: "true" or "false" } s ? s.Value == "true" : throw Error(node, Field(key), "must be true or false");
    }

    /// <summary>One of a fixed set of names, mapped to its value; <paramref name="fallback"/> when the key is absent.</summary>
    public T Choice<T>(string key, T fallback, string what, params (string Name, T Value)[] choices)
    {
        if (String(key) is not { } text) return fallback;
        foreach (var (name, value) in choices)
            if (name == text) return value;
        throw Error(key, $"unknown {what} '{text}' (expected {string.Join(" or ", choices.Select(c => c.Name))})");
    }

    /// <summary>A required name from one of the model's name tables, e.g. an operation or a walker kind.</summary>
    public T RequiredName<T>(string key, Shootdown.Model.Workload.NameTable<T> names, string what) where T : struct, Enum
    {
        var text = RequiredString(key);
        return names.Parse(text) ?? throw Error(key, $"unknown {what} '{text}' (expected {string.Join(", ", names.Names)})");
    }

    public IReadOnlyList<YamlReader> Mappings(string key)
    {
        var node = Find(key);
        if (node is null) return [];
        if (node is not YamlSequenceNode seq) throw Error(node, Field(key), "must be a list");
        return seq.Children.Select((c, i) => c is YamlMappingNode m
            ? new YamlReader(_file, m, $"{Field(key)}[{i}]")
            : throw Error(c, $"{Field(key)}[{i}]", "must be a mapping")).ToList();
    }

    public IReadOnlyList<(YamlNode Node, string Value)> Scalars(string key)
    {
        var node = Find(key);
        if (node is null) return [];
        if (node is YamlScalarNode { Value: { } one }) return [(node, one)];
        if (node is not YamlSequenceNode seq) throw Error(node, Field(key), "must be a list");
        return seq.Children.Select((c, i) => c is YamlScalarNode { Value: { } v }
            ? (c, v)
            : throw Error(c, $"{Field(key)}[{i}]", "must be a plain value")).ToList();
    }

    public YamlReader? Mapping(string key)
    {
        var node = Find(key);
        if (node is null) return null;
        return node is YamlMappingNode m ? new YamlReader(_file, m, Field(key)) : throw Error(node, Field(key), "must be a mapping");
    }

    /// <summary>Call after reading: any key not asked for is a typo or an unsupported field.</summary>
    public void RejectUnknownKeys(IEnumerable<string> known)
    {
        var knownSet = known.ToHashSet();
        foreach (var (key, _) in _map.Children)
        {
            var name = ((YamlScalarNode)key).Value!;
            if (!knownSet.Contains(name))
                throw Error(key, Field(name), $"unknown field (expected one of: {string.Join(", ", knownSet.Order())})");
        }
    }
}
