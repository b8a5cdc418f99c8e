using System.Runtime.InteropServices;
using Shootdown.Model.State;
using Shootdown.Model.Topology;

namespace Shootdown.Model.Simulation;

/// <summary>
/// Every event the model exchanges. The numeric order is the tie-break priority between
/// events at the same virtual time (after time, before source id and sequence number).
/// </summary>
public enum EventKind : byte
{
    // mm_struct state changes land first, as the kernel orders the cpumask write before tlb_gen reads.
    MmCpumaskSet,
    MmCpumaskClear,
    MmFlushBegin,
    MmFlushMask,
    MmPmdUnshare,
    MmPmdUnshared,
    MmActiveChange,
    MmCpumaskRead,
    MmCpumaskSnapshot,
    // smp_call_function traffic.
    CsdQueue,
    CsdQueueAnswer,
    InterruptRaise,
    InterruptDispatch,
    IdleWake,
    DirectedYield,
    CsdAck,
    // Scheduler.
    ThreadArrive,
    ThreadSleep,
    ThreadWake,
    ThreadMigrate,
    Timeslice,
    // Lockless page-table walkers.
    WalkBegin,
    // RCU grace periods (synchronize_rcu()).
    RcuQsRequest,
    RcuQsReport,
    // Operations.
    OpStepDone,
    OpArrival,
}

/// <summary>
/// One event, addressed to <see cref="Target"/>. Totally ordered by
/// (<see cref="Time"/>, <see cref="Kind"/>, <see cref="Source"/>, <see cref="Seq"/>): source and
/// sequence number are assigned by the sending entity, so the order never depends on which
/// engine, thread or silo carried the event. What the payload fields mean depends on the kind;
/// the handler of each kind says. An event is a pure value: a CPU mask travels beside it as an
/// attachment (<see cref="ISimContext.AttachedMask"/>), so queues of events hold no references.
/// The runtime lays the fields out (64 bytes, not the 72 that declaration order would pad to).
/// </summary>
[StructLayout(LayoutKind.Auto)]
public readonly record struct SimEvent(
    long Time,
    EventKind Kind,
    int Source,
    long Seq,
    int Target,
    long Op,
    int Arg,
    long X,
    long Y,
    int Flags)
{
    /// <summary>The ordering key alone, for priority queues.</summary>
    public EventKey Key => new(Time, Kind, Source, Seq);
}

/// <summary>
/// The total order of events, packed for speed: the time, then one word holding the kind (5
/// bits), the source (26 bits) and the sequence number (33 bits), so that comparing two keys is
/// comparing two words. <see cref="SimEvent.Key"/> refuses values that do not fit.
/// </summary>
public readonly struct EventKey : IComparable<EventKey>, IEquatable<EventKey>
{
    private const int SourceBits = 26, SeqBits = 33;
    public const long MaxSeq = (1L << SeqBits) - 1;
    public const int MaxSource = (1 << SourceBits) - 1;

    private readonly long _time;
    private readonly ulong _order;

    public EventKey(long time, EventKind kind, int source, long seq)
    {
        if ((uint)source > MaxSource || (ulong)seq > MaxSeq) OutOfRange(source, seq);
        _time = time;
        _order = (ulong)kind << (SourceBits + SeqBits) | (ulong)source << SeqBits | (ulong)seq;
    }

    private static void OutOfRange(int source, long seq) =>
        throw new InvalidOperationException($"event key out of range: source {source} (at most {MaxSource}), sequence number {seq} (at most {MaxSeq})");

    public long Time => _time;

    /// <summary>Kind, source and sequence number in one word: among keys of one time, the order is this word's.</summary>
    public ulong WithinTime => _order;

    public int CompareTo(EventKey other) =>
        _time != other._time ? (_time < other._time ? -1 : 1) : _order.CompareTo(other._order);

    public bool Equals(EventKey other) => _time == other._time && _order == other._order;
    public override bool Equals(object? obj) => obj is EventKey other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(_time, _order);
}

/// <summary>What an entity may do while handling an event: read the clock and send events.</summary>
public interface ISimContext
{
    long Now { get; }

    /// <summary>
    /// Sends an event to <paramref name="target"/> (itself included) for time <paramref name="at"/>.
    /// An event to another entity must be at least the lookahead in the future.
    /// </summary>
    void Send(int target, long at, EventKind kind, long op = 0, int arg = 0, long x = 0, long y = 0, int flags = 0, CpuMask? mask = null);

    /// <summary>The mask sent with <paramref name="e"/>, which the handler takes (once).</summary>
    CpuMask AttachedMask(in SimEvent e);
}

/// <summary>A mask travelling with the event that <paramref name="Source"/> numbered <paramref name="Seq"/>, to that event's <paramref name="Target"/>.</summary>
public readonly record struct MaskAttachment(int Source, long Seq, int Target, CpuMask Mask) : IStateRecord<MaskAttachment>
{
    public void Write(StateWriter writer)
    {
        writer.Int(Source);
        writer.Long(Seq);
        writer.Int(Target);
        writer.Mask(Mask);
    }

    public static MaskAttachment Read(StateReader reader) =>
        new(reader.Int(), reader.Long(), reader.Int(), reader.Mask() ?? throw reader.Invalid("an attachment without its mask"));

    /// <summary>What it weighs once written.</summary>
    public int Size => sizeof(int) + sizeof(long) + sizeof(int) + StateWriter.MaskSize(Mask);
}

/// <summary>Where an engine keeps masks between their send and the handling of their event.</summary>
public sealed class MaskAttachments
{
    private readonly Dictionary<(int, long), CpuMask> _masks = new();

    public void Attach(in MaskAttachment a) => _masks.Add((a.Source, a.Seq), a.Mask);

    public CpuMask Take(in SimEvent e) =>
        _masks.Remove((e.Source, e.Seq), out var mask) ? mask : throw new InvalidOperationException($"{e.Kind} from {e.Source} carries no mask");

    public void WriteState(StateWriter w)
    {
        w.Int(_masks.Count);
        foreach (var ((source, seq), mask) in _masks)
        {
            w.Int(source);
            w.Long(seq);
            w.Mask(mask);
        }
    }

    public void ReadState(StateReader r)
    {
        _masks.Clear();
        for (var count = r.Count("the attached masks"); count > 0; count--)
        {
            var key = (r.Int(), r.Long());
            if (!_masks.TryAdd(key, r.Mask() ?? throw r.Invalid("an attachment without its mask"))) throw r.Invalid($"two masks for event {key}");
        }
    }
}

/// <summary>A simulated object that owns its state and changes it only by handling events.</summary>
public interface ISimEntity
{
    int Id { get; }

    /// <summary>Called once at virtual time 0 to schedule the entity's first events.</summary>
    void Start(ISimContext ctx);

    void Handle(in SimEvent e, ISimContext ctx);

    /// <summary>What handling events has changed, in the state contract's encoding; what the setup gives is not written.</summary>
    void WriteState(StateWriter writer);

    /// <summary>Reads that back into an entity just built from the same setup, so it goes on as the written one would.</summary>
    void ReadState(StateReader reader);
}

/// <summary>
/// An entity some of whose events only count towards a wait: handling one writes nothing another
/// entity owns unless it is the one that completes the wait, so the event alone bounds its
/// writes too early, and the entity's state, with how many such events it holds, bounds them
/// better. A windowed engine that holds an entity's pending events asks it.
/// </summary>
public interface IWaitCompletion
{
    /// <summary>Whether events of this kind only count towards a wait (their own earliest writes are then "never").</summary>
    bool CountsTowardsWait(EventKind kind);

    /// <summary>
    /// The earliest writes to others' state that handling the <paramref name="held"/> waiting
    /// events it holds (at least one; the latest at <paramref name="latest"/>) can cause.
    /// </summary>
    EntityTimes WaitCompletionWrites(int held, long latest);
}

/// <summary>
/// An entity that, left alone, takes a known time to act on an interrupt: a CPU asleep in an idle
/// state leaves it first. An event that reaches it before anything else bounds its writes that
/// much later than the event alone says. A windowed engine that holds events for the entity asks
/// it after each run, and drops the later bound as soon as an earlier event reaches the entity.
/// </summary>
public interface IWakeLatency
{
    /// <summary>
    /// How long at least the entity takes to act on an interrupt that reaches it at
    /// <paramref name="from"/> or later, before anything else does and before its own next event
    /// (0 when it would act at once).
    /// </summary>
    long WakeLatencyFrom(long from);
}
