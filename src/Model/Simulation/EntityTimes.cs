using Shootdown.Model.State;

namespace Shootdown.Model.Simulation;

/// <summary>
/// One time for each kind of entity, CPUs and mms: for example, the earliest time an event can
/// make its entity write a CPU's state, and the earliest it can write an mm's.
/// <see cref="long.MaxValue"/> stands for never.
/// </summary>
public readonly record struct EntityTimes(long Cpu, long Mm) : IStateRecord<EntityTimes>
{
    public static EntityTimes Never { get; } = new(long.MaxValue, long.MaxValue);

    /// <summary>The same time for both kinds.</summary>
    public static EntityTimes Both(long t) => new(t, t);

    /// <summary>A time for one kind only; never for the other.</summary>
    public static EntityTimes Only(bool cpu, long t) => cpu ? new(t, long.MaxValue) : new(long.MaxValue, t);

    public long For(bool cpu) => cpu ? Cpu : Mm;

    public long Earliest => Math.Min(Cpu, Mm);

    public EntityTimes Min(EntityTimes other) => new(Math.Min(Cpu, other.Cpu), Math.Min(Mm, other.Mm));

    public void Write(StateWriter writer)
    {
        writer.Long(Cpu);
        writer.Long(Mm);
    }

    public static EntityTimes Read(StateReader reader) => new(reader.Long(), reader.Long());
}
