using System.Globalization;
using System.Text;
using Shootdown.Analysis.Runs;

namespace Shootdown.Analysis.Reporting;

/// <summary>cpus.csv: one row per (policy, CPU), with where the CPU sits and every counter, for pandas or a spreadsheet.</summary>
public static class CpuCsv
{
    public const string Header = "policy,cpu,source_cpu,package,core,numa_node,l3,realtime,cal,tlb,csds_handled,sync_csds_handled,stolen_ns,max_single_ns,max_period_noise_ns,idle_exit_ns,entry_exit_ns,handler_ns,ipis_received";

    public static string Render(Comparison c)
    {
        var m = c.Scenario.Machine;
        var rt = c.Scenario.Workload.RealtimeCpus.ToHashSet();
        var sb = new StringBuilder(Header).Append('\n');
        foreach (var run in c.Runs)
        foreach (var x in run.Result.Cpus)
            sb.Append(CultureInfo.InvariantCulture,
                $"{run.Result.Policy},{x.Cpu},{m.OsIndexOf(x.Cpu)},{m.PackageOf(x.Cpu)},{m.CoreOf(x.Cpu)},{m.NodeOsIndexOf(m.NodeOf(x.Cpu))},{m.L3Of(x.Cpu)},{(rt.Contains(x.Cpu) ? 1 : 0)},{x.Cal},{x.Tlb},{x.CsdsHandled},{x.SyncCsdsHandled},{x.StolenNs},{x.MaxSingleNs},{x.MaxPeriodNoiseNs},{x.IdleExitNs},{x.EntryExitNs},{x.HandlerNs},{x.IpisReceived}\n");
        return sb.ToString();
    }
}
