using Shootdown.Model.Simulation;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Kernel;

public sealed partial class Cpu
{
    /// <summary>A workload thread on this CPU's runqueue. Its generation invalidates events scheduled before it moved.</summary>
    private sealed class SimThread(long id, int process)
    {
        public long Id { get; } = id;
        public int Process { get; } = process;
        public bool Runnable { get; set; } = true;
        public bool Stopped { get; set; }
        public int Generation { get; set; }
    }

    private readonly List<SimThread> _runqueue = new();
    private bool _timeslicePending;

    /// <summary>Thread ids pack (process, thread index) so an mm can name its threads.</summary>
    public static long ThreadId(int process, int thread) => ((long)process << 32) | (uint)thread;

    private void StartThreads(ISimContext ctx)
    {
        var processes = _setup.Workload.Processes;
        for (var p = 0; p < processes.Length; p++)
        {
            var spec = processes[p];
            for (var t = 0; t < spec.Threads; t++)
            {
                if (spec.Cpus[t % spec.Cpus.Length] != Id) continue;
                var thread = new SimThread(ThreadId(p, t), p);
                _runqueue.Add(thread);
                ScheduleThreadEvents(thread, spec, ctx);
            }
        }
        Schedule(ctx);
    }

    private void ScheduleThreadEvents(SimThread thread, ProcessSpec spec, ISimContext ctx)
    {
        if (thread.Stopped) return;
        if (spec.StopNs is { } stop && stop >= ctx.Now && stop < _setup.DurationNs)
            ctx.Send(Id, stop, EventKind.ThreadSleep, thread.Id, thread.Generation, flags: StopForGood);
        if (spec.RunMeanNs is { } run && spec.SleepMeanNs is not null && thread.Runnable)
            SendIfInRun(ctx, ctx.Now + _rng.NextExponentialNs(run), EventKind.ThreadSleep, thread);
        if (spec.MigrateMeanNs is { } migrate)
            SendIfInRun(ctx, ctx.Now + _rng.NextExponentialNs(migrate), EventKind.ThreadMigrate, thread);
    }

    /// <summary>Flag on a ThreadSleep: the thread never wakes again.</summary>
    private const int StopForGood = 1;

    private void SendIfInRun(ISimContext ctx, long at, EventKind kind, SimThread thread)
    {
        if (at < _setup.DurationNs) ctx.Send(Id, at, kind, thread.Id, thread.Generation);
    }

    private SimThread? FindThread(in SimEvent e)
    {
        foreach (var t in _runqueue)
            if (t.Id == e.Op && t.Generation == e.Arg) return t;
        return null;
    }

    private void OnThreadSleep(in SimEvent e, ISimContext ctx)
    {
        if (FindThread(e) is not { } thread || thread.Stopped) return;
        thread.Runnable = false;
        var spec = _setup.Workload.Processes[thread.Process];
        if ((e.Flags & StopForGood) != 0) thread.Stopped = true;
        else SendIfInRun(ctx, ctx.Now + _rng.NextExponentialNs(spec.SleepMeanNs!.Value), EventKind.ThreadWake, thread);
        Schedule(ctx);
    }

    private void OnThreadWake(in SimEvent e, ISimContext ctx)
    {
        if (FindThread(e) is not { } thread || thread.Stopped) return;
        thread.Runnable = true;
        var spec = _setup.Workload.Processes[thread.Process];
        SendIfInRun(ctx, ctx.Now + _rng.NextExponentialNs(spec.RunMeanNs!.Value), EventKind.ThreadSleep, thread);
        Schedule(ctx);
    }

    /// <summary>The thread moves to a random CPU of its affinity list (possibly this one).</summary>
    private void OnThreadMigrate(in SimEvent e, ISimContext ctx)
    {
        if (FindThread(e) is not { } thread || thread.Stopped) return;
        var spec = _setup.Workload.Processes[thread.Process];
        var dest = spec.Cpus[_rng.NextInt(spec.Cpus.Length)];
        if (dest == Id)
        {
            SendIfInRun(ctx, ctx.Now + _rng.NextExponentialNs(spec.MigrateMeanNs!.Value), EventKind.ThreadMigrate, thread);
            return;
        }
        _runqueue.Remove(thread);
        ctx.Send(dest, ctx.Now + _costs.MigrationNs, EventKind.ThreadArrive, thread.Id, thread.Process, flags: thread.Runnable ? 1 : 0);
        Schedule(ctx);
    }

    private void OnThreadArrive(in SimEvent e, ISimContext ctx)
    {
        var thread = new SimThread(e.Op, e.Arg) { Runnable = (e.Flags & 1) != 0 };
        _runqueue.Add(thread);
        var spec = _setup.Workload.Processes[thread.Process];
        if (!thread.Runnable && spec.SleepMeanNs is { } sleep)
            SendIfInRun(ctx, ctx.Now + _rng.NextExponentialNs(sleep), EventKind.ThreadWake, thread);
        ScheduleThreadEvents(thread, spec, ctx);
        Schedule(ctx);
    }

    /// <summary>Round robin between runnable threads sharing this CPU.</summary>
    private void OnTimeslice(in SimEvent e, ISimContext ctx)
    {
        _timeslicePending = false;
        var current = _runqueue.FindIndex(t => t.Runnable);
        if (current >= 0)
        {
            var thread = _runqueue[current];
            _runqueue.RemoveAt(current);
            _runqueue.Add(thread);
        }
        Schedule(ctx);
    }

    /// <summary>
    /// __schedule() as far as the TLB cares: switch_mm_irqs_off() to the next runnable thread's
    /// mm, setting this CPU's bit in its mm_cpumask; or enter_lazy_tlb() when nothing is runnable,
    /// keeping the old mm loaded (and the bit set).
    /// </summary>
    private void Schedule(ISimContext ctx)
    {
        SimThread? next = null;
        var runnable = 0;
        foreach (var t in _runqueue)
        {
            if (!t.Runnable) continue;
            next ??= t;
            runnable++;
        }
        if (next is null)
        {
            if (LoadedMm != InitMm) IsLazy = true;
            NoteActiveMm(ctx);
            return;
        }
        var mm = _setup.MmEntityId(next.Process);
        if (mm != LoadedMm)
        {
            LoadedMm = mm;
            _loadedMmTlbGen = null;
            _switchedInAt = ctx.Now;
            ctx.Send(mm, ctx.Now + _costs.MmContextAccessNs, EventKind.MmCpumaskSet, next.Id);
        }
        IsLazy = false;
        NoteActiveMm(ctx);
        if (runnable > 1 && !_timeslicePending && ctx.Now + _setup.Workload.TimesliceNs < _setup.DurationNs)
        {
            _timeslicePending = true;
            ctx.Send(Id, ctx.Now + _setup.Workload.TimesliceNs, EventKind.Timeslice);
        }
    }
}
