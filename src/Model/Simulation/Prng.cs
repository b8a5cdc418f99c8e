using Shootdown.Model.State;

namespace Shootdown.Model.Simulation;

/// <summary>
/// What a random stream is for. Each purpose has its own stream per entity, so that adding
/// randomness of one kind (a rate-based operation stream, a walker) never moves another's draws
/// (a CPU's thread schedule). The values are the salts mixed into the run seed.
/// </summary>
public enum RandomStream : ulong
{
    /// <summary>A CPU's thread run, sleep and migration times.</summary>
    Scheduler = 0x5C4E_D07EUL,
    /// <summary>A CPU's rate-based operation arrivals.</summary>
    OpArrivals = 0x0A77_1FA1UL,
    /// <summary>The phases of a CPU's periodic IRQ-off windows.</summary>
    IrqOffPhases = 0x1F0F_FA5EUL,
    /// <summary>A CPU's lockless walk arrivals.</summary>
    Walkers = 0x6A1C_FA57UL,
    /// <summary>Whether an operation's batch page allocation fails (the entity is CPU and operation).</summary>
    BatchAlloc = 0xBA7C_4A11UL,
    /// <summary>Whether khugepaged's huge page allocation fails (the entity is CPU and collapse).</summary>
    ThpAlloc = 0x7A9A_110CUL,
    /// <summary>The phases of the host's vCPU preemption (the entity is pattern and CPU).</summary>
    VcpuPreemption = 0x57EA1_7100UL,
}

/// <summary>
/// xoshiro256** (Blackman and Vigna), seeded through SplitMix64 from (run seed, entity, purpose),
/// so every entity draws from its own streams whatever order the engine runs entities in. The
/// project owns the algorithm so results never depend on a runtime's System.Random.
/// </summary>
public sealed class Prng
{
    private ulong _s0, _s1, _s2, _s3;

    public Prng(ulong runSeed, ulong entityId, RandomStream purpose)
    {
        runSeed ^= (ulong)purpose;
        var x = runSeed ^ (entityId * 0x9E3779B97F4A7C15UL) ^ 0xD1B54A32D192ED03UL;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    private static ulong SplitMix64(ref ulong x)
    {
        var z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong Rotl(ulong x, int k) => (x << k) | (x >> (64 - k));

    public ulong NextUInt64()
    {
        var result = Rotl(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = Rotl(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1), 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, n).</summary>
    public int NextInt(int n) => (int)((NextUInt64() >> 33) % (ulong)n);

    /// <summary>The generator's position in its stream, for a checkpoint: its four words.</summary>
    public void WriteState(StateWriter w)
    {
        w.ULong(_s0);
        w.ULong(_s1);
        w.ULong(_s2);
        w.ULong(_s3);
    }

    public void ReadState(StateReader r)
    {
        (_s0, _s1, _s2, _s3) = (r.ULong(), r.ULong(), r.ULong(), r.ULong());
        if ((_s0 | _s1 | _s2 | _s3) == 0) throw r.Invalid("a random generator of all zeros, which xoshiro256** never reaches");
    }

    /// <summary>An exponential interval with the given mean, in whole nanoseconds, at least 1.</summary>
    public long NextExponentialNs(double meanNs) => Math.Max(1L, (long)Math.Round(-Math.Log(1.0 - NextDouble()) * meanNs));
}
