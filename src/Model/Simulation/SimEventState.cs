using System.Buffers.Binary;
using Shootdown.Model.State;

namespace Shootdown.Model.Simulation;

/// <summary>
/// An event in the state contract, field by field (its layout in memory is the runtime's, so it
/// is never copied as bytes): the one encoding for checkpoints and the window path's messages.
/// Here, beside the event, so that the state contract knows nothing of what it carries.
/// </summary>
public static class SimEventState
{
    /// <summary>The size of one event as written: time, kind, source, seq, target, op, arg, x, y, flags.</summary>
    public const int EventSize = 8 + 1 + 4 + 8 + 4 + 8 + 4 + 8 + 8 + 4;

    public static void Event(this StateWriter writer, in SimEvent e)
    {
        var span = writer.Fixed(EventSize);
        BinaryPrimitives.WriteInt64LittleEndian(span, e.Time);
        span[8] = (byte)e.Kind;
        BinaryPrimitives.WriteInt32LittleEndian(span[9..], e.Source);
        BinaryPrimitives.WriteInt64LittleEndian(span[13..], e.Seq);
        BinaryPrimitives.WriteInt32LittleEndian(span[21..], e.Target);
        BinaryPrimitives.WriteInt64LittleEndian(span[25..], e.Op);
        BinaryPrimitives.WriteInt32LittleEndian(span[33..], e.Arg);
        BinaryPrimitives.WriteInt64LittleEndian(span[37..], e.X);
        BinaryPrimitives.WriteInt64LittleEndian(span[45..], e.Y);
        BinaryPrimitives.WriteInt32LittleEndian(span[53..], e.Flags);
    }

    /// <summary>Events as a list: their count, then each.</summary>
    public static void Events(this StateWriter writer, ReadOnlySpan<SimEvent> events)
    {
        writer.Int(events.Length);
        foreach (ref readonly var e in events) writer.Event(e);
    }

    /// <summary>Events given in runs (views of chunks), written as one list: their count, then each.</summary>
    public static void Events(this StateWriter writer, ReadOnlySpan<ReadOnlyMemory<SimEvent>> runs)
    {
        var count = 0;
        foreach (var run in runs) count += run.Length;
        writer.Int(count);
        foreach (var run in runs)
            foreach (ref readonly var e in run.Span) writer.Event(e);
    }

    public static SimEvent Event(this StateReader reader)
    {
        var span = reader.Fixed(EventSize, "an event");
        var kind = span[8];
        if (kind > (byte)EventKind.OpArrival) throw reader.Invalid($"{kind} is not an EventKind");
        var (source, seq) = (BinaryPrimitives.ReadInt32LittleEndian(span[9..]), BinaryPrimitives.ReadInt64LittleEndian(span[13..]));
        // What an event key can order: a source or sequence number beyond it is no event the model sent.
        if ((uint)source > EventKey.MaxSource || (ulong)seq > EventKey.MaxSeq) throw reader.Invalid($"an event from {source} numbered {seq}, beyond what an event key holds");
        return new SimEvent(BinaryPrimitives.ReadInt64LittleEndian(span), (EventKind)kind, source,
            seq, BinaryPrimitives.ReadInt32LittleEndian(span[21..]), BinaryPrimitives.ReadInt64LittleEndian(span[25..]),
            BinaryPrimitives.ReadInt32LittleEndian(span[33..]), BinaryPrimitives.ReadInt64LittleEndian(span[37..]), BinaryPrimitives.ReadInt64LittleEndian(span[45..]),
            BinaryPrimitives.ReadInt32LittleEndian(span[53..]));
    }

    public static SimEvent[] Events(this StateReader reader)
    {
        var count = reader.Count("a list of events");
        if ((long)count * EventSize > reader.Remaining) throw reader.Invalid($"{count} events, with {reader.Remaining} bytes left");
        var events = new SimEvent[count];
        for (var i = 0; i < count; i++) events[i] = reader.Event();
        return events;
    }
}
