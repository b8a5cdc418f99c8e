using System.Collections.Immutable;
using YamlDotNet.RepresentationModel;

namespace Shootdown.Scenarios;

/// <summary>
/// <c>include: FILE</c>: a machine or process definition kept in its own YAML file. Paths are
/// relative to the including file. Includes nest up to <see cref="MaxDepth"/> deep, and a file
/// that includes itself, directly or not, is an error.
/// </summary>
internal sealed class Includes
{
    public const int MaxDepth = 8;

    private readonly ImmutableStack<string> _chain;

    private Includes(ImmutableStack<string> chain) => _chain = chain;

    public static Includes Root(string file) => new(ImmutableStack.Create(Path.GetFullPath(file)));

    /// <summary>The included file's path and root node, and the context for includes inside it.</summary>
    public (string File, YamlNode Root, Includes Context) Load(YamlReader from, YamlNode at, string field, string relative)
    {
        var path = Resolve(relative);
        var full = Path.GetFullPath(path);
        if (_chain.Contains(full)) throw from.Error(at, field, $"'{relative}' includes itself ({string.Join(" -> ", _chain.Reverse().Append(full).Select(Path.GetFileName))})");
        if (_chain.Count() > MaxDepth) throw from.Error(at, field, $"includes nest more than {MaxDepth} deep");
        // Problems reading the file are located at the include that names it.
        var text = InputFiles.ReadText(full, ScenarioLoader.MaxFileBytes, "an included file",
            problem => from.Error(at, field, $"'{relative}' ({full}): {problem}"));
        return (path, YamlReader.LoadRoot(path, text), new Includes(_chain.Push(full)));
    }

    /// <summary>Resolves a path named inside the current file (e.g. a topology file).</summary>
    public string Resolve(string relative) => Path.Combine(Path.GetDirectoryName(_chain.Peek()) ?? ".", relative);
}
