using System.Globalization;
using System.Text;
using Shootdown.Model.Results;
using Shootdown.Model.Topology;

namespace Shootdown.Analysis.Reporting;

/// <summary>
/// A <c>/proc/interrupts</c> snapshot (at the end of a run, or at either edge of a trace window), laid out as x86 prints it:
/// kernel/irq/proc.c show_interrupts() writes the header (<c>prec + 8</c> blanks, then
/// <c>CPU%-8d</c> per online CPU) and arch/x86/kernel/irq.c arch_show_interrupts() the rows
/// (<c>%*s: </c> with the 3-letter key, <c>%10u </c> per CPU, then the description).
/// <list type="bullet">
/// <item>Only CAL and TLB are modelled. CAL counts raw irq_call_count, flush IPIs included,
/// as kernels print it since 2016 ("x86/irq: Do not substract irq_tlb_count from irq_call_count").</item>
/// <item><c>prec</c> is the digit count of nr_irqs, at least 3. The model has no device
/// interrupts, so it is 3, and there are no numbered device rows.</item>
/// <item>Columns are headed with the CPU numbers of the machine the topology came from.</item>
/// </list>
/// </summary>
public static class ProcInterrupts
{
    private const int Prec = 3;

    public static string Render(Machine machine, PolicyResult result) => Render(machine, result.Cpus);

    public static string Render(Machine machine, IReadOnlyList<CpuCounters> cpus)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(' ', Prec + 8);
        for (var cpu = 0; cpu < machine.CpuCount; cpu++) sb.Append(inv, $"CPU{machine.OsIndexOf(cpu),-8}");
        sb.Append('\n');
        Row(sb, "CAL", cpus, c => c.Cal, "Function call interrupts");
        Row(sb, "TLB", cpus, c => c.Tlb, "TLB shootdowns");
        return sb.ToString();
    }

    private static void Row(StringBuilder sb, string key, IReadOnlyList<CpuCounters> cpus, Func<CpuCounters, long> value, string description)
    {
        var inv = CultureInfo.InvariantCulture;
        sb.Append(inv, $"{key.PadLeft(Prec)}: ");
        foreach (var c in cpus) sb.Append(inv, $"{(uint)value(c),10} ");
        sb.Append(inv, $"  {description}\n");
    }
}
