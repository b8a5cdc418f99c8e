namespace Shootdown.Scenarios;

/// <summary>Bad input, located: <c>file:line:column: field: message</c>. The CLI prints it as one line and exits 2.</summary>
public sealed class ScenarioException(string file, long line, long column, string field, string problem)
    : Exception($"{file}:{line}:{column}: {field}: {problem}")
{
    public string File { get; } = file;
    public long Line { get; } = line;
    public long Column { get; } = column;
    public string Field { get; } = field;
    public string Problem { get; } = problem;
}
