using Shootdown.Model.Simulation;
using Shootdown.Model.State;

namespace Shootdown.Protocol;

/// <summary>
/// What the window protocol knows of a member: the earliest time it could write a CPU's state and
/// an mm's (<see cref="Output"/>), and its earliest pending event on a CPU and on an mm (<see cref="Next"/>).
/// </summary>
public readonly record struct Frontier(EntityTimes Output, EntityTimes Next) : IStateRecord<Frontier>
{
    public const int OutputToCpu = 0, OutputToMm = 1, NextOnCpu = 2, NextOnMm = 3;

    public static Frontier Idle { get; } = new(EntityTimes.Never, EntityTimes.Never);

    public long this[int part] => part switch
    {
        OutputToCpu => Output.Cpu,
        OutputToMm => Output.Mm,
        NextOnCpu => Next.Cpu,
        _ => Next.Mm,
    };

    public Frontier Min(Frontier other) => new(Output.Min(other.Output), Next.Min(other.Next));

    public void Write(StateWriter writer)
    {
        Output.Write(writer);
        Next.Write(writer);
    }

    public static Frontier Read(StateReader reader) => new(EntityTimes.Read(reader), EntityTimes.Read(reader));
}
