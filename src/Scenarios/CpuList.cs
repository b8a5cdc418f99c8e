namespace Shootdown.Scenarios;

/// <summary>Linux cpulist syntax (<c>0-3,8,10-11</c>), as in /sys/devices/system/cpu/online.</summary>
public static class CpuList
{
    /// <summary>Parses a list for a machine of <paramref name="nrCpus"/> CPUs; throws <see cref="FormatException"/> with the reason.</summary>
    public static int[] Parse(string text, int nrCpus)
    {
        var cpus = new SortedSet<int>();
        foreach (var raw in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (raw.Length == 0) throw new FormatException($"empty element in CPU list '{text}'");
            var dash = raw.IndexOf('-');
            int lo, hi;
            if (dash < 0)
            {
                lo = hi = ParseCpu(raw, text);
            }
            else
            {
                lo = ParseCpu(raw[..dash], text);
                hi = ParseCpu(raw[(dash + 1)..], text);
                if (hi < lo) throw new FormatException($"range '{raw}' runs backwards");
            }
            if (hi >= nrCpus) throw new FormatException($"CPU {hi} is out of range: the machine has CPUs 0-{nrCpus - 1}");
            for (var c = lo; c <= hi; c++) cpus.Add(c);
        }
        return cpus.ToArray();
    }

    private static int ParseCpu(string s, string whole)
    {
        if (!int.TryParse(s, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var cpu))
            throw new FormatException($"'{s}' in CPU list '{whole}' is not a CPU number");
        return cpu;
    }

    /// <summary>The shortest cpulist for a sorted set of CPUs.</summary>
    public static string Format(IEnumerable<int> cpus)
    {
        var parts = new List<string>();
        int? start = null, prev = null;
        foreach (var c in cpus.Order())
        {
            if (prev is { } p && c == p + 1) { prev = c; continue; }
            if (start is { } s) parts.Add(s == prev ? $"{s}" : $"{s}-{prev}");
            start = prev = c;
        }
        if (start is { } st) parts.Add(st == prev ? $"{st}" : $"{st}-{prev}");
        return string.Join(',', parts);
    }
}
