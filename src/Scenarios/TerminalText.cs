using System.Globalization;
using System.Text;

namespace Shootdown.Scenarios;

/// <summary>
/// User-supplied text on its way to a terminal. A scenario's name, a file name or a value echoed
/// in an error could hold escape sequences (ESC, OSC, BEL) that a terminal would obey; they are
/// shown instead, as \xNN.
/// </summary>
public static class TerminalText
{
    /// <summary>C0 controls other than tab and newline, DEL, and the C1 controls.</summary>
    public static bool IsControl(char c) => (c < ' ' && c is not ('\t' or '\n')) || c is >= '\u007f' and <= '\u009f';

    public static string Escape(string text)
    {
        if (!text.Any(IsControl)) return text;
        var sb = new StringBuilder(text.Length + 8);
        foreach (var c in text)
            sb.Append(IsControl(c) ? $"\\x{((int)c).ToString("x2", CultureInfo.InvariantCulture)}" : c.ToString());
        return sb.ToString();
    }
}
