using System.Collections.Immutable;
using Shootdown.Model.Simulation;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Kernel;

/// <summary>
/// When the host has each vCPU preempted: the steal-time pattern of the scenario. A pure function
/// of (seed, CPU, time), so the guest kernel on any CPU can read another vCPU's
/// <c>steal_time.preempted</c>, as kvm_flush_tlb_multi() does, without asking it.
/// </summary>
public sealed class VcpuPreemption
{
    private readonly (long Phase, long Period, long Duration)[][] _windows;

    public VcpuPreemption(int nrCpus, ImmutableArray<StealTimeSpec> specs, ulong seed)
    {
        _windows = new (long, long, long)[nrCpus][];
        var perCpu = Enumerable.Range(0, nrCpus).Select(_ => new List<(long, long, long)>()).ToArray();
        for (var i = 0; i < specs.Length; i++)
        {
            foreach (var cpu in specs[i].Cpus)
            {
                // Its own stream per (spec, CPU): the phase never depends on other draws.
                var phase = (long)(new Prng(seed, (ulong)(i * nrCpus + cpu), RandomStream.VcpuPreemption).NextDouble() * specs[i].PeriodNs);
                perCpu[cpu].Add((phase, specs[i].PeriodNs, specs[i].DurationNs));
            }
        }
        for (var c = 0; c < nrCpus; c++) _windows[c] = perCpu[c].ToArray();
        Any = specs.Length > 0;
    }

    public bool Any { get; }

    /// <summary><c>steal_time.preempted &amp; KVM_VCPU_PREEMPTED</c> for <paramref name="cpu"/> at <paramref name="t"/>.</summary>
    public bool IsPreempted(int cpu, long t) => RunningFrom(cpu, t) != t;

    /// <summary>The first time at or after <paramref name="t"/> at which the vCPU runs.</summary>
    public long RunningFrom(int cpu, long t)
    {
        var windows = _windows[cpu];
        if (windows.Length == 0) return t;
        // Windows of different specs may abut or overlap: repeat until none covers t.
        for (var before = -1L; before != t;)
        {
            before = t;
            foreach (var (phase, period, duration) in windows) t = PeriodicWindow.SkipPast(t, phase, period, duration);
        }
        return t;
    }

    /// <summary>When a vCPU that starts <paramref name="runNs"/> of work at <paramref name="start"/> finishes it, frozen while preempted.</summary>
    public long FinishOfWork(int cpu, long start, long runNs)
    {
        var t = RunningFrom(cpu, start);
        if (_windows[cpu].Length == 0) return t + runNs;
        while (runNs > 0)
        {
            var next = NextPreemption(cpu, t);
            var run = Math.Min(runNs, next - t);
            t += run;
            runNs -= run;
            if (runNs > 0) t = RunningFrom(cpu, t);
        }
        return t;
    }

    /// <summary>The start of the first preemption window after <paramref name="t"/>.</summary>
    private long NextPreemption(int cpu, long t)
    {
        var next = long.MaxValue;
        foreach (var (phase, period, _) in _windows[cpu])
        {
            var start = t < phase ? phase : phase + ((t - phase) / period + 1) * period;
            next = Math.Min(next, start);
        }
        return next;
    }
}
