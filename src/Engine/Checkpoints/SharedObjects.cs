using System.Reflection;

namespace Shootdown.Engine.Checkpoints;

/// <summary>
/// The objects every silo of a run already holds, numbered the same way on each: the run's
/// immutable setup and contract and its trace sink, and everything reachable from them through
/// Shootdown's own types, arrays and collections. A checkpoint refers to them by number instead
/// of copying them, so an entity restored on another silo points at that silo's setup. The walk
/// visits fields in declaration order, and both silos build the setup from the same definition,
/// so the numbering agrees.
/// </summary>
public sealed class SharedObjects
{
    private readonly Dictionary<object, int> _index = new(ReferenceEqualityComparer.Instance);
    private readonly List<object> _objects = [];

    public SharedObjects(params object[] roots)
    {
        var pending = new Stack<object>(roots.Reverse());
        while (pending.TryPop(out var o))
        {
            if (!_index.TryAdd(o, _objects.Count)) continue;
            _objects.Add(o);
            var children = new List<object>();
            Children(o, children);
            for (var i = children.Count - 1; i >= 0; i--) pending.Push(children[i]);
        }
    }

    public bool TryIndex(object o, out int index) => _index.TryGetValue(o, out index);

    public object this[int index] => _objects[index];

    public int Count => _objects.Count;

    /// <summary>Whether the walk looks inside objects of this type (others are shared whole, as opaque handles such as an ActivitySource).</summary>
    private static bool Descends(Type type) =>
        type.IsArray || type.Namespace is { } ns && (ns.StartsWith("Shootdown", StringComparison.Ordinal) || ns.StartsWith("System.Collections", StringComparison.Ordinal));

    private static void Children(object o, List<object> children)
    {
        var type = o.GetType();
        if (o is string || !Descends(type)) return;
        if (o is Array array)
        {
            if (type.GetElementType()!.IsPrimitive) return;
            foreach (var element in array) Value(element, children);
            return;
        }
        foreach (var field in GraphFields.Of(type)) Value(field.GetValue(o), children);
    }

    private static void Value(object? value, List<object> children)
    {
        if (value is null) return;
        var type = value.GetType();
        if (type.IsPrimitive || type.IsEnum) return;
        if (type.IsValueType)
        {
            // A struct is part of its holder, not an object of its own: walk its fields.
            if (Descends(type)) foreach (var field in GraphFields.Of(type)) Value(field.GetValue(value), children);
            return;
        }
        children.Add(value);
    }
}

/// <summary>A type's instance fields, base class first, in declaration order; cached.</summary>
internal static class GraphFields
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, FieldInfo[]> Cache = new();

    public static FieldInfo[] Of(Type type) => Cache.GetOrAdd(type, static t =>
    {
        var chain = new List<Type>();
        for (var b = t; b is not null && b != typeof(object) && b != typeof(ValueType); b = b.BaseType) chain.Add(b);
        chain.Reverse();
        return [.. chain.SelectMany(b => b.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly)
            .OrderBy(f => f.MetadataToken))];
    });
}
