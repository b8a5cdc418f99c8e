using Shootdown.Model.Simulation;
using Shootdown.Model.State;

namespace Shootdown.Model.Kernel;

/// <summary>
/// kernel/rcu/tree.c, as far as <c>synchronize_rcu()</c> goes, one CPU's side: the caller that
/// waits for a normal grace period, and every other CPU's quiescent state for it. No IPI is sent:
/// the grace-period kthread learns of an idle CPU (an extended quiescent state) at its first
/// force-quiescent-state scan, <c>jiffies_till_first_fqs</c> after the grace period starts, and a
/// busy CPU reports its own quiescent state from its next scheduler tick
/// (<c>rcu_sched_clock_irq()</c>), which cannot come while its IRQs are off: since the RCU flavours
/// were consolidated (v4.20) an IRQs-disabled region is a read-side critical section, so the grace
/// period outlasts every GUP-fast walk and PAE <c>pmdp_get_lockless()</c> read that began before it.
/// Here each other CPU answers the caller with the time of its quiescent state, and the grace
/// period ends at the latest (docs/model.md, "RCU grace periods").
/// </summary>
public sealed class RcuTree(Cpu cpu)
{
    // The caller's side: the grace period it waits for (one at a time: its operation blocks on it).
    private long _gpSerial;
    private int _pendingReports;
    private long _lastQuiescentState;

    /// <summary>
    /// rcu_init_geometry(): <c>jiffies_till_first_fqs = RCU_JIFFIES_TILL_FORCE_QS + nr_cpu_ids /
    /// RCU_JIFFIES_FQS_DIV</c>, with <c>RCU_JIFFIES_TILL_FORCE_QS = 1 + (HZ &gt; 250) + (HZ &gt; 500)</c>
    /// and <c>RCU_JIFFIES_FQS_DIV = 256</c>, unless the boot parameter sets it (capped at HZ).
    /// </summary>
    public static long JiffiesTillFirstFqs(Costs.CostModel costs, int nrCpuIds)
    {
        var hz = 1_000_000_000 / costs.JiffyNs;
        if (costs.RcuJiffiesTillFirstFqs > 0) return Math.Min(costs.RcuJiffiesTillFirstFqs, hz);
        return 1 + (hz > 250 ? 1 : 0) + (hz > 500 ? 1 : 0) + nrCpuIds / 256;
    }

    /// <summary>
    /// synchronize_rcu(): wakes the grace-period kthread, which starts a grace period
    /// (<c>rcu_gp_init()</c>); the caller sleeps until every other CPU has passed a quiescent state.
    /// This CPU's own is immediate: its caller sleeps. Ends the operation's step when the kthread
    /// has seen the last one and woken the caller.
    /// </summary>
    public void SynchronizeRcu(KernelOperation op, ISimContext ctx)
    {
        _gpSerial++;
        var gpStart = ctx.Now + cpu.Costs.RcuGpKthreadNs;
        _lastQuiescentState = gpStart;
        _pendingReports = cpu.Machine.CpuCount - 1;
        if (_pendingReports == 0)
        {
            GracePeriodEnds(ctx);
            return;
        }
        var at = ctx.Now + cpu.Setup.FastestInteractionNs;
        for (var c = 0; c < cpu.Machine.CpuCount; c++)
            if (c != cpu.Id) RcuQsAsked.Send(ctx, c, at, _gpSerial, gpStart);
    }

    /// <summary>
    /// Another CPU's grace period needs this CPU's quiescent state: a CPU in an extended quiescent
    /// state (idle, or a nohz_full CPU in user mode, whose tick is off) is reported by the first
    /// FQS scan (rcu_watching_snap_save()); a busy one reports at its next tick once IRQs are on
    /// (ticks are on jiffy boundaries, not skewed).
    /// </summary>
    public void RcuQsRequest(in SimEvent e, ISimContext ctx)
    {
        var asked = new RcuQsAsked(in e);
        var quiescent = cpu.InExtendedQuiescentState(ctx.Now)
            ? asked.GpStart + JiffiesTillFirstFqs(cpu.Costs, cpu.Machine.CpuCount) * cpu.Costs.JiffyNs
            : cpu.Irqs.EnabledFrom(NextTick(ctx.Now));
        RcuQsReported.Send(ctx, e.Source, ctx.Now + cpu.Setup.FastestInteractionNs, asked.Gp, quiescent);
    }

    private long NextTick(long t) => (t + cpu.Costs.JiffyNs - 1) / cpu.Costs.JiffyNs * cpu.Costs.JiffyNs;

    /// <summary>rcu_report_qs_rnp(): one CPU's quiescent state reached the root; the last one ends the grace period.</summary>
    public void RcuQsReport(in SimEvent e, ISimContext ctx)
    {
        var report = new RcuQsReported(in e);
        if (report.Gp != _gpSerial || _pendingReports == 0)
            throw new InvalidOperationException($"CPU {cpu.Id}: a quiescent state for grace period {report.Gp}, which it is not waiting for");
        _lastQuiescentState = Math.Max(_lastQuiescentState, report.QuiescentAt);
        if (--_pendingReports == 0) GracePeriodEnds(ctx);
    }

    /// <summary>rcu_gp_cleanup(), then the caller woken: the step ends when the kthread has run again.</summary>
    private void GracePeriodEnds(ISimContext ctx) =>
        StepDone.Send(ctx, cpu.Id, Math.Max(ctx.Now, _lastQuiescentState + cpu.Costs.RcuGpKthreadNs));

    public void WriteState(StateWriter w)
    {
        w.Long(_gpSerial);
        w.Int(_pendingReports);
        w.Long(_lastQuiescentState);
    }

    public void ReadState(StateReader r)
    {
        (_gpSerial, _pendingReports, _lastQuiescentState) = (r.Long(), r.Int(), r.Long());
        if (_pendingReports < 0 || _pendingReports >= cpu.Machine.CpuCount)
            throw r.Invalid($"a grace period waiting for {_pendingReports} CPUs on a machine of {cpu.Machine.CpuCount}");
    }
}
