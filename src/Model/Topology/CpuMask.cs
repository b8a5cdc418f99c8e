using System.Numerics;

namespace Shootdown.Model.Topology;

/// <summary>
/// A fixed-size set of CPU numbers, the model's <c>struct cpumask</c>. Immutable once built:
/// a snapshot of <c>mm_cpumask</c> can be handed to another entity without copying.
/// </summary>
public sealed class CpuMask : IEquatable<CpuMask>
{
    private readonly ulong[] _words;

    private CpuMask(int nrCpus, ulong[] words)
    {
        NrCpus = nrCpus;
        _words = words;
    }

    public int NrCpus { get; }

    public ReadOnlySpan<ulong> Words => _words;

    public static CpuMask FromWords(int nrCpus, ReadOnlySpan<ulong> words)
    {
        if (words.Length != WordCount(nrCpus))
            throw new ArgumentException($"a mask of {nrCpus} CPUs needs {WordCount(nrCpus)} words, got {words.Length}");
        return new CpuMask(nrCpus, words.ToArray());
    }

    public static int WordCount(int nrCpus) => (nrCpus + 63) / 64;

    public bool Test(int cpu) => (_words[cpu >> 6] & (1UL << (cpu & 63))) != 0;

    /// <summary><c>cpumask_weight()</c>: how many CPUs are set.</summary>
    public int Weight()
    {
        var weight = 0;
        foreach (var w in _words) weight += BitOperations.PopCount(w);
        return weight;
    }

    /// <summary>CPUs in ascending order, the order of <c>for_each_cpu()</c>.</summary>
    public IEnumerable<int> Cpus()
    {
        for (var i = 0; i < _words.Length; i++)
        {
            var w = _words[i];
            while (w != 0)
            {
                var bit = BitOperations.TrailingZeroCount(w);
                yield return (i << 6) + bit;
                w &= w - 1;
            }
        }
    }

    /// <summary><c>cpumask_any_but(mask, cpu) &lt; nr_cpu_ids</c>: is any CPU other than <paramref name="cpu"/> set?</summary>
    public bool AnyBut(int cpu)
    {
        for (var i = 0; i < _words.Length; i++)
        {
            var w = _words[i];
            if (i == cpu >> 6) w &= ~(1UL << (cpu & 63));
            if (w != 0) return true;
        }
        return false;
    }

    public bool Equals(CpuMask? other) =>
        other is not null && other.NrCpus == NrCpus && _words.AsSpan().SequenceEqual(other._words);

    public override bool Equals(object? obj) => Equals(obj as CpuMask);

    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var w in _words) h.Add(w);
        return h.ToHashCode();
    }

    /// <summary>Mutable bitmap, used by the mm for the live <c>mm_cpumask</c>.</summary>
    public sealed class Builder(int nrCpus)
    {
        private readonly ulong[] _words = new ulong[WordCount(nrCpus)];

        public int NrCpus { get; } = nrCpus;

        public void Set(int cpu)
        {
            if ((uint)cpu >= (uint)NrCpus) throw new ArgumentOutOfRangeException(nameof(cpu), cpu, $"CPU must be in 0..{NrCpus - 1}");
            _words[cpu >> 6] |= 1UL << (cpu & 63);
        }

        public void Clear(int cpu) => _words[cpu >> 6] &= ~(1UL << (cpu & 63));

        public CpuMask ToMask() => new(NrCpus, (ulong[])_words.Clone());

        public ReadOnlySpan<ulong> Words => _words;

        /// <summary>Takes the bits of <paramref name="words"/> (a restored state's), one word per 64 CPUs.</summary>
        public void Load(ReadOnlySpan<ulong> words)
        {
            if (words.Length != _words.Length) throw new ArgumentException($"a mask of {NrCpus} CPUs needs {_words.Length} words, got {words.Length}");
            words.CopyTo(_words);
        }
    }
}
