namespace Shootdown.Tests;

/// <summary>Console samples in the shipped README and docs/, as the tests compare them with what the tool prints.</summary>
internal static class DocBlocks
{
    /// <summary>The first fenced block after <paramref name="marker"/> in a shipped document, with its final newline.</summary>
    public static string After(string document, string marker)
    {
        var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, document));
        var at = text.IndexOf(marker, StringComparison.Ordinal);
        Assert.True(at >= 0, $"{document} has no '{marker}'");
        var open = text.IndexOf("```\n", at, StringComparison.Ordinal) + 4;
        return text[open..text.IndexOf("```\n", open, StringComparison.Ordinal)];
    }
}
