using Shootdown.Model.Simulation;
using Shootdown.Model.State;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Kernel;

/// <summary>
/// kernel/sched/core.c as far as the TLB cares: one CPU's runqueue of workload threads, which run
/// and sleep for exponential times, migrate within their affinity, and share the CPU round robin.
/// <c>__schedule()</c> switches the mm (<see cref="TlbState.SwitchMmIrqsOff"/>) or goes lazy.
/// </summary>
public sealed class Scheduler(Cpu cpu, Prng rng)
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

    /// <summary>A workload thread runs here (as of the last schedule).</summary>
    public bool HasRunnable { get; private set; }

    /// <summary>Thread ids pack (process, thread index) so an mm can name its threads.</summary>
    public static long ThreadId(int process, int thread) => ((long)process << 32) | (uint)thread;

    /// <summary>The process a thread id names.</summary>
    public static int ProcessOf(long thread) => (int)(thread >> 32);

    public void WriteState(StateWriter w)
    {
        rng.WriteState(w);
        w.Bool(_timeslicePending);
        w.Bool(HasRunnable);
        w.Int(_runqueue.Count);
        foreach (var t in _runqueue)
        {
            w.Long(t.Id);
            w.Bool(t.Runnable);
            w.Bool(t.Stopped);
            w.Int(t.Generation);
        }
    }

    public void ReadState(StateReader r)
    {
        rng.ReadState(r);
        (_timeslicePending, HasRunnable) = (r.Bool(), r.Bool());
        _runqueue.Clear();
        for (var count = r.Count("a runqueue"); count > 0; count--)
        {
            var id = r.Long();
            var process = ProcessOf(id);
            if ((uint)process >= (uint)cpu.Setup.Workload.Processes.Length) throw r.Invalid($"thread {id:x} of process {process}, which the workload lacks");
            _runqueue.Add(new SimThread(id, process) { Runnable = r.Bool(), Stopped = r.Bool(), Generation = r.Int() });
        }
    }

    /// <summary>Puts the threads pinned here on the runqueue and schedules.</summary>
    public void Start(ISimContext ctx)
    {
        var processes = cpu.Setup.Workload.Processes;
        foreach (var (p, t) in cpu.Setup.ThreadsStartingOn(cpu.Id))
        {
            var thread = new SimThread(ThreadId(p, t), p);
            _runqueue.Add(thread);
            ScheduleThreadEvents(thread, processes[p], ctx);
        }
        Schedule(ctx);
    }

    private void ScheduleThreadEvents(SimThread thread, ProcessSpec spec, ISimContext ctx)
    {
        if (thread.Stopped) return;
        if (spec.StopNs is { } stop && stop >= ctx.Now && stop < cpu.Setup.DurationNs)
            ThreadEvent.Send(ctx, cpu.Id, stop, EventKind.ThreadSleep, thread.Id, thread.Generation, stopForGood: true);
        if (spec.RunMeanNs is { } run && spec.SleepMeanNs is not null && thread.Runnable)
            SendIfInRun(ctx, ctx.Now + rng.NextExponentialNs(run), EventKind.ThreadSleep, thread);
        if (spec.MigrateMeanNs is { } migrate)
            SendIfInRun(ctx, ctx.Now + rng.NextExponentialNs(migrate), EventKind.ThreadMigrate, thread);
    }

    private void SendIfInRun(ISimContext ctx, long at, EventKind kind, SimThread thread)
    {
        if (at < cpu.Setup.DurationNs) ThreadEvent.Send(ctx, cpu.Id, at, kind, thread.Id, thread.Generation);
    }

    private SimThread? FindThread(in ThreadEvent e)
    {
        foreach (var t in _runqueue)
            if (t.Id == e.Thread && t.Generation == e.Generation) return t;
        return null;
    }

    public void ThreadSleep(in SimEvent ev, ISimContext ctx)
    {
        var e = new ThreadEvent(in ev);
        if (FindThread(e) is not { } thread || thread.Stopped) return;
        thread.Runnable = false;
        var spec = cpu.Setup.Workload.Processes[thread.Process];
        if (e.StopForGood) thread.Stopped = true;
        else SendIfInRun(ctx, ctx.Now + rng.NextExponentialNs(spec.SleepMeanNs!.Value), EventKind.ThreadWake, thread);
        Schedule(ctx);
    }

    public void ThreadWake(in SimEvent ev, ISimContext ctx)
    {
        var e = new ThreadEvent(in ev);
        if (FindThread(e) is not { } thread || thread.Stopped) return;
        thread.Runnable = true;
        var spec = cpu.Setup.Workload.Processes[thread.Process];
        SendIfInRun(ctx, ctx.Now + rng.NextExponentialNs(spec.RunMeanNs!.Value), EventKind.ThreadSleep, thread);
        Schedule(ctx);
    }

    /// <summary>The thread moves to a random CPU of its affinity list (possibly this one).</summary>
    public void ThreadMigrate(in SimEvent ev, ISimContext ctx)
    {
        var e = new ThreadEvent(in ev);
        if (FindThread(e) is not { } thread || thread.Stopped) return;
        var spec = cpu.Setup.Workload.Processes[thread.Process];
        var dest = spec.Cpus[rng.NextInt(spec.Cpus.Length)];
        if (dest == cpu.Id)
        {
            SendIfInRun(ctx, ctx.Now + rng.NextExponentialNs(spec.MigrateMeanNs!.Value), EventKind.ThreadMigrate, thread);
            return;
        }
        _runqueue.Remove(thread);
        ThreadArrived.Send(ctx, dest, ctx.Now + cpu.Costs.MigrationNs, thread.Id, thread.Process, thread.Runnable);
        Schedule(ctx);
    }

    public void ThreadArrive(in SimEvent ev, ISimContext ctx)
    {
        var e = new ThreadArrived(in ev);
        var thread = new SimThread(e.Thread, e.Process) { Runnable = e.Runnable };
        _runqueue.Add(thread);
        var spec = cpu.Setup.Workload.Processes[thread.Process];
        if (!thread.Runnable && spec.SleepMeanNs is { } sleep)
            SendIfInRun(ctx, ctx.Now + rng.NextExponentialNs(sleep), EventKind.ThreadWake, thread);
        ScheduleThreadEvents(thread, spec, ctx);
        Schedule(ctx);
    }

    /// <summary>Round robin between runnable threads sharing this CPU.</summary>
    public void Timeslice(ISimContext ctx)
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
    /// __schedule(): switch_mm_irqs_off() to the next runnable thread's mm, or enter_lazy_tlb()
    /// and the idle loop when nothing is runnable.
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
        HasRunnable = next is not null;
        cpu.ReconsiderIdle(ctx.Now);
        if (next is null)
        {
            cpu.Tlb.EnterLazyTlb(ctx);
            return;
        }
        cpu.Tlb.SwitchMmIrqsOff(cpu.Setup.MmEntityId(next.Process), next.Id, ctx);
        var timeslice = cpu.Setup.Workload.TimesliceNs;
        if (runnable > 1 && !_timeslicePending && ctx.Now + timeslice < cpu.Setup.DurationNs)
        {
            _timeslicePending = true;
            ctx.Send(cpu.Id, ctx.Now + timeslice, EventKind.Timeslice);
        }
    }
}
