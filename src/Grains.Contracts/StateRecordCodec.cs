using System.Buffers;
using Orleans.Serialization.Buffers;
using Orleans.Serialization.Cloning;
using Orleans.Serialization.Codecs;
using Orleans.Serialization.WireProtocol;
using Shootdown.Model.Results;
using Shootdown.Model.Safety;
using Shootdown.Model.Simulation;
using Shootdown.Model.State;

namespace Shootdown.Grains;

/// <summary>
/// The one adapter between the model's state contract and Orleans: a value that writes itself
/// (<see cref="IStateRecord{TSelf}"/>) crosses a grain call as one length-prefixed field holding
/// <see cref="StateContract"/>'s bytes, so the model needs no Orleans serializer and no
/// hand-written surrogate. The values are immutable, so a local call passes them as they are.
/// </summary>
public abstract class StateRecordCodec<T> : IFieldCodec<T>, IDeepCopier<T> where T : class, IStateRecord<T>
{
    public void WriteField<TBufferWriter>(ref Writer<TBufferWriter> writer, uint fieldIdDelta, Type? expectedType, T? value)
        where TBufferWriter : IBufferWriter<byte>
    {
        // Writes null, or a reference to the same value met earlier in the message.
        if (ReferenceCodec.TryWriteReferenceField(ref writer, fieldIdDelta, expectedType, value)) return;
        writer.WriteFieldHeader(fieldIdDelta, expectedType, typeof(T), WireType.LengthPrefixed);
        StateFields.Write(ref writer, value);
    }

    public T? ReadValue<TInput>(ref Reader<TInput> reader, Field field)
    {
        if (field.WireType == WireType.Reference) return ReferenceCodec.ReadReference<T, TInput>(ref reader, field);
        field.EnsureWireType(WireType.LengthPrefixed);
        var value = StateFields.Read<T, TInput>(ref reader);
        ReferenceCodec.RecordObject(reader.Session, value);
        return value;
    }

    public T? DeepCopy(T? input, CopyContext context) => input;
}

/// <summary>The same adapter for a small value type (a pair of safe times): no references to track, copied as it is.</summary>
public abstract class StateValueCodec<T> : IFieldCodec<T>, IDeepCopier<T> where T : struct, IStateRecord<T>
{
    public void WriteField<TBufferWriter>(ref Writer<TBufferWriter> writer, uint fieldIdDelta, Type? expectedType, T value)
        where TBufferWriter : IBufferWriter<byte>
    {
        ReferenceCodec.MarkValueField(writer.Session);
        writer.WriteFieldHeader(fieldIdDelta, expectedType, typeof(T), WireType.LengthPrefixed);
        StateFields.Write(ref writer, value);
    }

    public T ReadValue<TInput>(ref Reader<TInput> reader, Field field)
    {
        ReferenceCodec.MarkValueField(reader.Session);
        field.EnsureWireType(WireType.LengthPrefixed);
        return StateFields.Read<T, TInput>(ref reader);
    }

    public T DeepCopy(T input, CopyContext context) => input;
}

/// <summary>A value's contract bytes inside an Orleans field: their length, then themselves.</summary>
internal static class StateFields
{
    /// <summary>Each thread's writer, reused so a message's bytes are written into memory already touched; one that a large batch grew is let go.</summary>
    [ThreadStatic] private static StateWriter? _scratch;

    private const int KeptScratch = 1 << 20;

    public static void Write<T, TBufferWriter>(ref Writer<TBufferWriter> writer, T value)
        where T : IStateRecord<T> where TBufferWriter : IBufferWriter<byte>
    {
        var scratch = StateContract.Begin(_scratch ??= new StateWriter(4096));
        value.Write(scratch);
        writer.WriteVarUInt32((uint)scratch.Length);
        writer.Write(scratch.Written);
        if (scratch.Capacity > KeptScratch) _scratch = null;
    }

    public static T Read<T, TInput>(ref Reader<TInput> reader) where T : IStateRecord<T> =>
        StateContract.Decode<T>(reader.ReadBytes(reader.ReadVarUInt32()));
}

[RegisterSerializer, RegisterCopier]
public sealed class TableRetireCodec : StateRecordCodec<TableRetire>;

[RegisterSerializer, RegisterCopier]
public sealed class CpuSafetyCodec : StateRecordCodec<CpuSafety>;

[RegisterSerializer, RegisterCopier]
public sealed class SafetyReportCodec : StateRecordCodec<SafetyReport>;

[RegisterSerializer, RegisterCopier]
public sealed class CpuCountersCodec : StateRecordCodec<CpuCounters>;

[RegisterSerializer, RegisterCopier]
public sealed class OpRecordCodec : StateRecordCodec<OpRecord>;

[RegisterSerializer, RegisterCopier]
public sealed class EntityInputCodec : StateRecordCodec<EntityInput>;

[RegisterSerializer, RegisterCopier]
public sealed class EntityWindowCodec : StateRecordCodec<EntityWindow>;

[RegisterSerializer, RegisterCopier]
public sealed class PartitionBatchCodec : StateRecordCodec<PartitionBatch>;

[RegisterSerializer, RegisterCopier]
public sealed class PartitionReportCodec : StateRecordCodec<PartitionReport>;

[RegisterSerializer, RegisterCopier]
public sealed class EntityTimesCodec : StateValueCodec<EntityTimes>;
