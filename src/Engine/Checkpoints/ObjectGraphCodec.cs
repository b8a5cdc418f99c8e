using System.Collections;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Shootdown.Engine.Checkpoints;

/// <summary>
/// Writes an object graph (an entity's runner with its model object, a partition's waiting
/// events) to bytes and reads it back, by reflection over fields, so that neither the model nor
/// the runner knows about checkpoints. Objects shared with the setup are written as their
/// <see cref="SharedObjects"/> number; objects met twice, as a reference to the first (so
/// sharing and cycles survive); arrays of plain structs (events) as their bytes. Hash-based
/// collections are written as their entries and rebuilt by adding them, because a hash code need
/// not be the same in another process. A delegate, a type or a pointer cannot be written and is
/// refused with its field's path, so a model change that adds one fails the checkpoint tests
/// rather than restoring wrong state.
/// </summary>
public static class ObjectGraphCodec
{
    private enum Tag : byte { Null, Shared, Seen, String, Object }

    /// <param name="capacity">What the bytes will about come to, when the caller knows (a partition's part does): no copies while growing.</param>
    public static byte[] Write(object root, SharedObjects shared, int capacity = 0)
    {
        using var stream = new MemoryStream(capacity);
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            new GraphWriter(writer, shared).Root(root);
        return stream.Length == stream.Capacity ? stream.GetBuffer() : stream.ToArray();
    }

    /// <summary>As <see cref="Write"/>, into the writer's own buffer, which is returned as it stands (no copy to an exact-sized array).</summary>
    public static ReadOnlyMemory<byte> WriteUncopied(object root, SharedObjects shared, int capacity)
    {
        var stream = new MemoryStream(capacity);
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            new GraphWriter(writer, shared).Root(root);
        return stream.GetBuffer().AsMemory(0, (int)stream.Length);
    }

    public static T Read<T>(byte[] bytes, SharedObjects shared) where T : class => Read<T>(bytes.AsMemory(), shared);

    /// <summary>Reads from a view of a larger array (an opened checkpoint part) without copying it.</summary>
    public static T Read<T>(ReadOnlyMemory<byte> bytes, SharedObjects shared) where T : class
    {
        if (!MemoryMarshal.TryGetArray(bytes, out var segment)) segment = bytes.ToArray();
        using var reader = new BinaryReader(new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false));
        return (T)new GraphReader(reader, shared).Reference()!;
    }

    /// <summary>How to copy a value type that holds no references as its bytes, or null for one that holds some.</summary>
    private sealed record PlainCodec(int Size, Action<object, BinaryWriter> Write, Func<BinaryReader, object> Read)
    {
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, PlainCodec?> Cache = new();

        public static PlainCodec? For(Type type) => Cache.GetOrAdd(type, static t =>
            (PlainCodec?)typeof(PlainCodec).GetMethod(nameof(Make), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(t).Invoke(null, null));

        // No struct constraint: Nullable<T> of a plain T is plain too, and the constraint excludes it.
        private static PlainCodec? Make<T>() =>
            RuntimeHelpers.IsReferenceOrContainsReferences<T>() ? null : new PlainCodec(Unsafe.SizeOf<T>(),
                (boxed, output) =>
                {
                    var value = (T)boxed;
                    output.Write(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<T, byte>(ref value), Unsafe.SizeOf<T>()));
                },
                input =>
                {
                    Span<byte> bytes = stackalloc byte[Unsafe.SizeOf<T>()];
                    input.BaseStream.ReadExactly(bytes);
                    return Unsafe.ReadUnaligned<T>(ref bytes[0])!;
                });
    }

    /// <summary>A field, and how its value is written when it is plain; per type, cached.</summary>
    private sealed record FieldPlan(FieldInfo Field, PlainCodec? Plain)
    {
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, FieldPlan[]> Cache = new();

        public static FieldPlan[] Of(Type type) => Cache.GetOrAdd(type, static t =>
            [.. GraphFields.Of(t).Select(f => new FieldPlan(f, f.FieldType.IsValueType ? PlainCodec.For(f.FieldType) : null))]);
    }

    // How a type is written the first time a stream meets it; later it is its number in the stream.
    private const int NamedType = -1, ArrayType = -2, GenericType = -3;

    /// <summary>
    /// The name a checkpoint gives a type that is neither an array nor a constructed generic:
    /// its full name and its assembly's simple name. Arrays and generics are written from their
    /// parts, so <c>List&lt;(long, int)&gt;</c> costs a few numbers once its parts have been met,
    /// not the hundreds of characters of an assembly-qualified name (most of a small entity's bytes).
    /// </summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, string> NamesByType = new();

    /// <summary>Types by the name a checkpoint gives them, resolved once per process.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Type> TypesByName = new();

    private static string NameOf(Type type) => NamesByType.GetOrAdd(type, static t => $"{t.FullName}|{t.Assembly.GetName().Name}");

    private static Type Named(string name) => TypesByName.GetOrAdd(name, static n =>
    {
        var bar = n.IndexOf('|');
        var assembly = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == n[(bar + 1)..])
                       ?? Assembly.Load(n[(bar + 1)..]);
        return assembly.GetType(n[..bar]) ?? throw new InvalidDataException($"a checkpoint names a type this silo lacks: {n}");
    });

    private static bool IsHashed(Type type) => type.IsGenericType &&
        (type.GetGenericTypeDefinition() == typeof(Dictionary<,>) || type.GetGenericTypeDefinition() == typeof(HashSet<>));

    private static bool Refused(Type type) => typeof(Delegate).IsAssignableFrom(type) || typeof(MemberInfo).IsAssignableFrom(type) || type.IsPointer;

    private sealed class GraphWriter(BinaryWriter output, SharedObjects shared)
    {
        private readonly Dictionary<object, int> _seen = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<Type, int> _types = [];
        // The field names down to where the writer is, joined only to name what it refuses.
        private readonly List<string> _path = [];

        public void Root(object root)
        {
            _path.Add("root");
            Reference(root);
        }

        private NotSupportedException Refusal(string what) => new($"a checkpoint cannot hold {string.Join('.', _path)} ({what})");

        private void Reference(object? o)
        {
            if (o is null)
            {
                output.Write((byte)Tag.Null);
                return;
            }
            if (shared.TryIndex(o, out var index))
            {
                output.Write((byte)Tag.Shared);
                output.Write(index);
                return;
            }
            if (_seen.TryGetValue(o, out var id))
            {
                output.Write((byte)Tag.Seen);
                output.Write(id);
                return;
            }
            _seen.Add(o, _seen.Count);
            if (o is string s)
            {
                output.Write((byte)Tag.String);
                output.Write(s);
                return;
            }
            var type = o.GetType();
            if (Refused(type)) throw Refusal($"a {type.Name}");
            output.Write((byte)Tag.Object);
            WriteType(type);
            if (o is Array array) Array(array);
            else if (type.IsValueType) Value(type, o);
            else if (IsHashed(type)) Hashed(o, type);
            else Fields(type, o);
        }

        private void WriteType(Type type)
        {
            if (_types.TryGetValue(type, out var id))
            {
                output.Write(id);
                return;
            }
            if (type.IsArray)
            {
                output.Write(ArrayType);
                WriteType(type.GetElementType()!);
            }
            else if (type.IsConstructedGenericType)
            {
                output.Write(GenericType);
                WriteType(type.GetGenericTypeDefinition());
                var arguments = type.GetGenericArguments();
                output.Write(arguments.Length);
                foreach (var argument in arguments) WriteType(argument);
            }
            else
            {
                output.Write(NamedType);
                output.Write(NameOf(type));
            }
            // Numbered after its parts, as the reader meets them.
            _types.Add(type, _types.Count);
        }

        private void Array(Array array)
        {
            if (array.Rank != 1) throw Refusal($"an array of rank {array.Rank}");
            output.Write(array.Length);
            var element = array.GetType().GetElementType()!;
            if (element.IsValueType && PlainCodec.For(element) is { } plain)
            {
                output.Write(MemoryMarshal.CreateReadOnlySpan(ref MemoryMarshal.GetArrayDataReference(array), checked(array.Length * plain.Size)));
                return;
            }
            for (var i = 0; i < array.Length; i++) Value(element, array.GetValue(i));
        }

        private void Hashed(object collection, Type type)
        {
            // The comparer first (it decides equality on the reading side too), then the entries in order.
            Reference(type.GetProperty("Comparer")!.GetValue(collection));
            var arguments = type.GetGenericArguments();
            if (collection is IDictionary dictionary)
            {
                output.Write(dictionary.Count);
                foreach (DictionaryEntry pair in dictionary)
                {
                    Value(arguments[0], pair.Key);
                    Value(arguments[1], pair.Value);
                }
                return;
            }
            var items = ((IEnumerable)collection).Cast<object?>().ToList();
            output.Write(items.Count);
            foreach (var item in items) Value(arguments[0], item);
        }

        private void Fields(Type type, object o)
        {
            foreach (var plan in FieldPlan.Of(type))
            {
                var value = plan.Field.GetValue(o);
                if (plan.Plain is { } plain)
                {
                    plain.Write(value!, output);
                    continue;
                }
                _path.Add(plan.Field.Name);
                Value(plan.Field.FieldType, value);
                _path.RemoveAt(_path.Count - 1);
            }
        }

        /// <summary>A value where <paramref name="declared"/> is its static type: inline for value types, else a reference.</summary>
        private void Value(Type declared, object? value)
        {
            // What a field may hold is refused by the object actually there (a null delegate is no harm).
            if (!declared.IsValueType)
            {
                Reference(value);
                return;
            }
            if (PlainCodec.For(declared) is { } plain)
            {
                plain.Write(value!, output);
                return;
            }
            if (Nullable.GetUnderlyingType(declared) is { } underlying)
            {
                // A boxed Nullable is its value or null, not a struct with fields.
                output.Write(value is not null);
                if (value is not null) Value(underlying, value);
                return;
            }
            Fields(declared, value!);
        }
    }

    private sealed class GraphReader(BinaryReader input, SharedObjects shared)
    {
        private readonly List<object> _seen = [];
        private readonly List<Type> _types = [];

        public object? Reference()
        {
            switch ((Tag)input.ReadByte())
            {
                case Tag.Null: return null;
                case Tag.Shared: return shared[input.ReadInt32()];
                case Tag.Seen: return _seen[input.ReadInt32()];
                case Tag.String:
                    var s = input.ReadString();
                    _seen.Add(s);
                    return s;
                case Tag.Object:
                    var type = ReadType();
                    if (type.IsArray) return Array(type);
                    if (type.IsValueType)
                    {
                        // A boxed struct: its box is the object others refer to.
                        var slot = _seen.Count;
                        _seen.Add(null!);
                        var boxed = Value(type)!;
                        _seen[slot] = boxed;
                        return boxed;
                    }
                    if (IsHashed(type)) return Hashed(type);
                    var o = RuntimeHelpers.GetUninitializedObject(type);
                    _seen.Add(o);
                    Fields(type, o);
                    return o;
                default: throw new InvalidDataException("a checkpoint is corrupt: unknown tag");
            }
        }

        private Type ReadType()
        {
            var id = input.ReadInt32();
            if (id >= 0) return _types[id];
            var type = id switch
            {
                ArrayType => ReadType().MakeArrayType(),
                GenericType => ReadGeneric(),
                NamedType => Named(input.ReadString()),
                _ => throw new InvalidDataException("a checkpoint is corrupt: unknown type tag"),
            };
            _types.Add(type);
            return type;
        }

        private Type ReadGeneric()
        {
            var definition = ReadType();
            var arguments = new Type[input.ReadInt32()];
            for (var i = 0; i < arguments.Length; i++) arguments[i] = ReadType();
            return definition.MakeGenericType(arguments);
        }

        private Array Array(Type type)
        {
            var element = type.GetElementType()!;
            var array = System.Array.CreateInstance(element, input.ReadInt32());
            _seen.Add(array);
            if (element.IsValueType && PlainCodec.For(element) is { } plain)
            {
                input.BaseStream.ReadExactly(MemoryMarshal.CreateSpan(ref MemoryMarshal.GetArrayDataReference(array), checked(array.Length * plain.Size)));
                return array;
            }
            for (var i = 0; i < array.Length; i++) array.SetValue(Value(element), i);
            return array;
        }

        private object Hashed(Type type)
        {
            var slot = _seen.Count;
            _seen.Add(null!);
            var comparer = Reference();
            var collection = Activator.CreateInstance(type, comparer)!;
            _seen[slot] = collection;
            var count = input.ReadInt32();
            var arguments = type.GetGenericArguments();
            if (collection is IDictionary dictionary)
            {
                for (var i = 0; i < count; i++)
                {
                    var key = Value(arguments[0])!;
                    dictionary.Add(key, Value(arguments[1]));
                }
                return collection;
            }
            var add = type.GetMethod("Add")!;
            for (var i = 0; i < count; i++) add.Invoke(collection, [Value(arguments[0])]);
            return collection;
        }

        private void Fields(Type type, object o)
        {
            foreach (var plan in FieldPlan.Of(type)) plan.Field.SetValue(o, plan.Plain is { } plain ? plain.Read(input) : Value(plan.Field.FieldType));
        }

        public object? Value(Type declared)
        {
            if (!declared.IsValueType) return Reference();
            if (PlainCodec.For(declared) is { } plain) return plain.Read(input);
            if (Nullable.GetUnderlyingType(declared) is { } underlying) return input.ReadBoolean() ? Value(underlying) : null;
            var boxed = RuntimeHelpers.GetUninitializedObject(declared);
            Fields(declared, boxed);
            return boxed;
        }
    }
}
