using System.Globalization;
using System.Text;
using Shootdown.Model.Results;
using Shootdown.Model.Topology;

namespace Shootdown.Analysis.Reporting;

/// <summary>
/// The real-time CPUs' noise as <c>rtla osnoise top</c> prints it (tools/tracing/rtla,
/// osnoise_top.c): a centred title, a duration line, then one row per CPU with Period (#
/// osnoise periods), Runtime, Noise, % CPU Aval, Max Noise (the most in one period), Max Single
/// and the IRQ count. Times are in ns, not rtla's µs: one call-function interrupt is well under
/// a microsecond. The only noise source modelled is the call-function IPI, so the HW, NMI,
/// Softirq and Thread columns are left out rather than printed as zeros.
/// </summary>
public static class OsnoiseTop
{
    public static string Render(Machine machine, PolicyResult result, IReadOnlyList<int> realtimeCpus, long durationNs, long periodNs)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        var duration = TimeSpan.FromTicks(durationNs / 100);
        sb.Append(inv, $"{"Operating System Noise",64}\n");
        // rtla's d hh:mm:ss, with the milliseconds where the run is not whole seconds: a simulated
        // run is often shorter than one, and "0 00:00:00" would say nothing.
        var fraction = durationNs % 1_000_000_000 == 0 ? "" : string.Create(inv, $".{duration.Milliseconds:000}");
        sb.Append(inv, $"duration: {duration.Days,3} {duration.Hours:00}:{duration.Minutes:00}:{duration.Seconds:00}{fraction} | time is in ns | policy {result.Policy}\n");
        sb.Append("CPU Period       Runtime        Noise  % CPU Aval   Max Noise   Max Single          IRQ\n");
        var periods = (durationNs + periodNs - 1) / periodNs;
        foreach (var cpu in realtimeCpus)
        {
            var c = result.Cpus[cpu];
            var available = durationNs == 0 ? 100.0 : 100.0 * (durationNs - c.StolenNs) / durationNs;
            sb.Append(inv, $"{machine.OsIndexOf(cpu),3} #{periods,-6} {durationNs,12} {c.StolenNs,12} {available,10:F5} {c.MaxPeriodNoiseNs,12} {c.MaxSingleNs,12} {c.Cal,12}\n");
        }
        return sb.ToString();
    }
}
