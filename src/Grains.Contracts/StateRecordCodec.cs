using System.Buffers;
using Orleans.Serialization.Buffers;
using Orleans.Serialization.Cloning;
using Orleans.Serialization.Codecs;
using Orleans.Serialization.WireProtocol;
using Shootdown.Model.Results;
using Shootdown.Model.Safety;
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
        var bytes = StateContract.Encode(value);
        writer.WriteVarUInt32((uint)bytes.Length);
        writer.Write(bytes);
    }

    public T? ReadValue<TInput>(ref Reader<TInput> reader, Field field)
    {
        if (field.WireType == WireType.Reference) return ReferenceCodec.ReadReference<T, TInput>(ref reader, field);
        field.EnsureWireType(WireType.LengthPrefixed);
        var value = StateContract.Decode<T>(reader.ReadBytes(reader.ReadVarUInt32()));
        ReferenceCodec.RecordObject(reader.Session, value);
        return value;
    }

    public T? DeepCopy(T? input, CopyContext context) => input;
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
