using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Shootdown.Model.State;
using Shootdown.Model.Workload;

namespace Shootdown.Model.Tracing;

/// <summary>
/// Collects one sampled operation's trace as its initiator runs it. Only sampled operations
/// have one, so an unsampled run pays a null check per step and per call target.
/// </summary>
public sealed class OpTraceBuilder(IOpTraceSink sink, int initiator, long serial, OpType type, int process, int mmEntity, long arrivalNs, long startNs)
{
    private readonly List<StepTrace> _steps = new();
    private readonly List<object> _carriers = new();
    private StepKind _kind;
    private long _stepStart;
    private string _outcome = "";
    private int _pages;
    private bool _full, _freedTables;
    private CsdFunc _func;
    private long _callStart, _loopEnd, _ipisSent, _waitDone;
    private bool _ranLocal;
    private TargetTrace[]? _targets;

    /// <summary>
    /// What the operation's trace holds so far. The host's carriers are not written: they are
    /// tokens of the process that ran the steps (its engine spans), which a restored run's
    /// process does not have; its trace links the spans of the steps it runs itself.
    /// </summary>
    public void WriteState(StateWriter w)
    {
        w.Items(_steps);
        w.Enum(_kind);
        w.Long(_stepStart);
        w.String(_outcome);
        w.Int(_pages);
        w.Bool(_full);
        w.Bool(_freedTables);
        w.Enum(_func);
        w.Long(_callStart);
        w.Long(_loopEnd);
        w.Long(_ipisSent);
        w.Long(_waitDone);
        w.Bool(_ranLocal);
        w.Bool(_targets is not null);
        if (_targets is not null) w.Items<TargetTrace>(_targets);
    }

    public void ReadState(StateReader r)
    {
        r.ItemsInto(_steps);
        (_kind, _stepStart, _outcome, _pages, _full, _freedTables) = (r.Enum<StepKind>(), r.Long(), r.String(), r.Int(), r.Bool(), r.Bool());
        (_func, _callStart, _loopEnd, _ipisSent, _waitDone, _ranLocal) = (r.Enum<CsdFunc>(), r.Long(), r.Long(), r.Long(), r.Long(), r.Bool());
        _targets = r.Bool() ? [.. r.Items<TargetTrace>()] : null;
    }

    public void BeginStep(StepKind kind, long now)
    {
        _kind = kind;
        _stepStart = now;
        _outcome = "";
        _targets = null;
        NoteCarrier();
    }

    public void Outcome(string outcome, int pages = 0, bool full = false, bool freedTables = false)
    {
        _outcome = outcome;
        _pages = pages;
        _full = full;
        _freedTables = freedTables;
    }

    /// <summary>The call's targets are known once its csds are set up; each gets its landing, and its IPI's arrival once the loop is over.</summary>
    public void BeginCall(CsdFunc func, long start, int count)
    {
        _func = func;
        _callStart = start;
        _targets = new TargetTrace[count];
    }

    public void Target(int index, int cpu, long queuedNs) =>
        _targets![index] = new TargetTrace(cpu, queuedNs, 0, 0, 0, 0, false, false);

    /// <summary>The target at <paramref name="index"/> is in the IPI's mask; its IPI arrives then.</summary>
    public void IpiArrival(int index, long arrivalNs) => _targets![index] = _targets[index] with { IpiArrivalNs = arrivalNs };

    public void IpisSent(long loopEnd, long at, bool ranLocal)
    {
        _loopEnd = loopEnd;
        _ipisSent = at;
        _ranLocal = ranLocal;
    }

    /// <summary>A target answered; targets are in CPU order, so it is found by binary search.</summary>
    public void Answer(int cpu, long funcStartNs, long unlockNs, long answeredNs, bool declined, bool coalesced)
    {
        var i = BinarySearch(cpu);
        _targets![i] = _targets[i] with
        {
            FuncStartNs = declined ? 0 : funcStartNs,
            UnlockNs = declined ? 0 : unlockNs,
            AnsweredNs = answeredNs,
            Declined = declined,
            Coalesced = coalesced,
        };
    }

    public void CallDone(long waitDoneNs) => _waitDone = waitDoneNs;

    public void EndStep(long now)
    {
        var call = _targets is null ? null : new CallTrace(_func, _callStart, _loopEnd, _ipisSent, _ranLocal, _waitDone, ImmutableCollectionsMarshal.AsImmutableArray(_targets));
        _steps.Add(new StepTrace(_kind, _stepStart, now, _outcome, _pages, _full, _freedTables, call));
        _targets = null;
        NoteCarrier();
    }

    public void Finish(long endNs)
    {
        NoteCarrier();
        sink.Completed(new OpTrace(initiator, serial, type, process, mmEntity, arrivalNs, startNs, endNs, [.. _steps], [.. _carriers]));
    }

    private void NoteCarrier()
    {
        if (sink.CurrentCarrier() is { } carrier && (_carriers.Count == 0 || !Equals(_carriers[^1], carrier))) _carriers.Add(carrier);
    }

    private int BinarySearch(int cpu)
    {
        int lo = 0, hi = _targets!.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var c = _targets[mid].Cpu;
            if (c == cpu) return mid;
            if (c < cpu) lo = mid + 1;
            else hi = mid - 1;
        }
        throw new InvalidOperationException($"CPU {cpu} is not a target of CPU {initiator}'s call");
    }
}
