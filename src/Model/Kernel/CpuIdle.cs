using Shootdown.Model.State;

namespace Shootdown.Model.Kernel;

/// <summary>
/// kernel/sched/idle.c do_idle() with drivers/cpuidle, for one CPU: when nothing runs, the menu
/// governor (drivers/cpuidle/governors/menu.c) picks the deepest idle state whose target
/// residency fits the idle time it predicts from the last eight idle periods and whose exit
/// latency fits the PM QoS limit. An interrupt then pays that state's exit latency before its
/// handler runs, and a CPU whose tick was stopped pays for tick_irq_enter()/tick_nohz_irq_exit().
/// The idle periods an IPI cuts short teach the governor shallower states, as on real machines.
/// <para>
/// Not modelled: timers (menu also bounds its prediction by the next timer event; the model's
/// idle CPUs have none), and the exit latency of a wake-up that runs a thread or an operation
/// (the workload's run and sleep times are drawn, so a delay there would only shift them).
/// </para>
/// </summary>
public sealed class CpuIdle(Cpu cpu)
{
    /// <summary>menu.c INTERVALS: how many past idle periods the governor keeps.</summary>
    private const int Intervals = 8;
    private const long NotIdle = long.MaxValue;

    private readonly long[] _intervalsUs = new long[Intervals];
    private int _intervalPtr;
    private long _idleSince = NotIdle;
    private int _state;

    private CpuidleDriver Driver => cpu.Setup.Features.Cpuidle;

    /// <summary>menu_select() stopped the tick for this idle period: a state deeper than POLL and a predicted idle of a tick or more.</summary>
    private bool _tickStopped;

    /// <summary>The CPU was woken from an idle period with the tick stopped, and no handler has paid for that yet.</summary>
    private bool _wokeWithTickStopped;

    public void WriteState(StateWriter w)
    {
        foreach (var us in _intervalsUs) w.Long(us);
        w.Int(_intervalPtr);
        w.Long(_idleSince);
        w.Int(_state);
        w.Bool(_tickStopped);
        w.Bool(_wokeWithTickStopped);
    }

    public void ReadState(StateReader r)
    {
        for (var i = 0; i < Intervals; i++) _intervalsUs[i] = r.Long();
        (_intervalPtr, _idleSince, _state, _tickStopped, _wokeWithTickStopped) = (r.Int(), r.Long(), r.Int(), r.Bool(), r.Bool());
        if ((uint)_intervalPtr >= Intervals) throw r.Invalid($"menu's interval pointer at {_intervalPtr}, not below {Intervals}");
        if (_state < 0 || _state >= Math.Max(1, Driver.States.Length)) throw r.Invalid($"idle state {_state} where {Driver.Name} has {Driver.States.Length}");
    }

    /// <summary>
    /// do_idle() -> cpuidle_idle_call(): nothing runs from <paramref name="t"/> on (which a
    /// handler still running may put in the future), so menu_select() picks a state.
    /// </summary>
    public void DoIdle(long t)
    {
        if (_idleSince != NotIdle) return;
        _idleSince = t;
        if (Driver.States.IsEmpty) return;
        _state = MenuSelect(out _tickStopped);
    }

    /// <summary>With no idle states modelled an idle CPU costs nothing to wake and does not poll.</summary>
    private static readonly IdleState NoIdleState = new("none", 0, 0, Polls: false);

    /// <summary>Something runs from <paramref name="t"/>: the idle period, if one began, ends (menu_update()).</summary>
    public void Leave(long t)
    {
        if (_idleSince == NotIdle) return;
        if (t > _idleSince)
        {
            var state = StateAt(t);
            MenuUpdate(state, t - _idleSince);
            cpu.Tracer.Slice(_idleSince, t, Tracing.TimelineSlice.Idle, state.Name);
        }
        _idleSince = NotIdle;
    }

    /// <summary>
    /// An interrupt, or a write to the monitored thread flags, reaches this CPU at
    /// <paramref name="t"/>: how long it takes to leave the idle state it is in (0 when not idle).
    /// The CPU is no longer idle.
    /// </summary>
    public long Wake(long t)
    {
        if (_idleSince > t) return 0;
        var state = StateAt(t);
        var exitNs = ExitLatency(state);
        // The residency cpuidle measures runs until the CPU is back out, exit included.
        MenuUpdate(state, t + exitNs - _idleSince);
        cpu.Tracer.Slice(_idleSince, t + exitNs, Tracing.TimelineSlice.Idle, state.Name, exitNs);
        _idleSince = NotIdle;
        _wokeWithTickStopped = _tickStopped;
        return exitNs;
    }

    /// <summary>
    /// The least an interrupt reaching this CPU at <paramref name="from"/> or later pays to leave
    /// idle, if nothing reaches it first: the exit latency of the state it sleeps in then, which
    /// only a deeper state can follow (POLL giving way, <see cref="StateAt"/>); 0 when it is not
    /// idle by then.
    /// </summary>
    public long ExitLatencyFrom(long from) => _idleSince <= from ? ExitLatency(StateAt(from)) : 0;

    /// <summary>
    /// What leaving <paramref name="state"/> costs this core: the table's figure where the package
    /// went down with it, the core's own where a table figure is a package state's worst case and
    /// the workload keeps another core of the package up (<see cref="SimulationSetup.PackageOnlyIdles"/>).
    /// The governor still reads the table's (menu_select(), menu_update()).
    /// </summary>
    private long ExitLatency(IdleState state) =>
        state.CoreExitLatencyNs is { } coreNs && !cpu.Setup.PackageOnlyIdles(cpu.Id) ? coreNs : state.ExitLatencyNs;

    /// <summary>
    /// Whether the csd work now starting follows a wake-up with the tick stopped: tick_irq_enter()
    /// catches jiffies up, and the tick is reprogrammed on the way back (tick_nohz_irq_exit(), or
    /// tick_nohz_idle_exit() from the idle loop). Answers once per wake-up.
    /// </summary>
    public bool TakeStoppedTick()
    {
        var stopped = _wokeWithTickStopped;
        _wokeWithTickStopped = false;
        return stopped;
    }

    /// <summary>idle_cpu(): nothing runs at <paramref name="t"/>.</summary>
    public bool IsIdle(long t) => _idleSince <= t;

    /// <summary>TIF_POLLING_NRFLAG at <paramref name="t"/>: idle in a state that spins on or monitors need_resched.</summary>
    public bool Polling(long t) => _idleSince <= t && StateAt(t).Polls;

    /// <summary>
    /// The state the CPU is in at <paramref name="t"/>. POLL spins for cpuidle_poll_time() at most
    /// (the next state's target residency); then the loop goes round, and menu_update() takes the
    /// spin for a long idle, so the CPU sleeps in that next state unless the PM QoS limit keeps it polling.
    /// </summary>
    private IdleState StateAt(long t)
    {
        var states = Driver.States;
        if (states.IsEmpty) return NoIdleState;
        var state = states[_state];
        if (!state.IsPollState || _state + 1 >= states.Length) return state;
        var next = states[_state + 1];
        var pollTimeLimit = t - _idleSince > next.TargetResidencyNs;
        return pollTimeLimit && next.ExitLatencyNs <= LatencyReq ? next : state;
    }

    private long LatencyReq => cpu.Setup.Features.CpuidleLatencyLimitNs ?? long.MaxValue;

    /// <summary>
    /// menu_select(): the deepest state whose target residency is within the predicted idle time
    /// and whose exit latency is within the PM QoS limit; the tick is stopped unless the state
    /// polls or the prediction is shorter than a tick.
    /// </summary>
    private int MenuSelect(out bool stopTick)
    {
        var states = Driver.States;
        var predictedNs = GetTypicalIntervalUs() is { } us ? us * 1_000 : long.MaxValue;
        var idx = 0;
        for (var i = 1; i < states.Length; i++)
        {
            if (states[i].TargetResidencyNs > predictedNs || states[i].ExitLatencyNs > LatencyReq) break;
            idx = i;
        }
        stopTick = !states[idx].IsPollState && predictedNs >= cpu.Costs.JiffyNs;
        return idx;
    }

    /// <summary>
    /// menu_update(): the measured idle time, which "will include the exit latency", less the
    /// table's exit latency when it is large beside it (half of it otherwise), goes into the ring
    /// of past intervals.
    /// </summary>
    private void MenuUpdate(IdleState state, long measuredNs)
    {
        measuredNs = measuredNs > 2 * state.ExitLatencyNs ? measuredNs - state.ExitLatencyNs : measuredNs / 2;
        _intervalsUs[_intervalPtr] = measuredNs / 1_000;
        _intervalPtr = (_intervalPtr + 1) % Intervals;
    }

    /// <summary>
    /// menu.c get_typical_interval(): the average of the past intervals if their spread is small
    /// (standard deviation under 20 µs, or under a sixth of the average); otherwise drop the largest
    /// and try again, down to three quarters of them. Null when there is no usable prediction.
    /// </summary>
    private long? GetTypicalIntervalUs()
    {
        var thresh = long.MaxValue;
        while (true)
        {
            long max = 0, sum = 0;
            var divisor = 0;
            foreach (var v in _intervalsUs)
            {
                if (v > thresh) continue;
                sum += v;
                divisor++;
                max = Math.Max(max, v);
            }
            if (max == 0) return null;
            var avg = sum / divisor;
            long variance = 0;
            foreach (var v in _intervalsUs)
            {
                if (v > thresh) continue;
                var diff = v - avg;
                variance += diff * diff;
            }
            variance /= divisor;
            if ((avg * avg > variance * 36 && divisor * 4 >= Intervals * 3) || variance <= 400) return avg;
            if (divisor * 4 <= Intervals * 3) return null;
            thresh = max - 1;
        }
    }
}
