namespace Shootdown.Scenarios;

/// <summary>
/// Bad input, located: <c>file:line:column: field: message</c>, or for a value given on the
/// command line, <c>--set PATH=VALUE: field: message</c>. The CLI prints it as one line and exits 2.
/// </summary>
public sealed class ScenarioException : Exception
{
    public ScenarioException(string file, long line, long column, string field, string problem)
        : this($"{file}:{line}:{column}: {field}: {problem}", file, line, column, field, problem)
    {
    }

    private ScenarioException(string message, string file, long line, long column, string field, string problem) : base(message)
    {
        File = file;
        Line = line;
        Column = column;
        Field = field;
        Problem = problem;
    }

    /// <summary>A fault in a value that a command-line argument (<paramref name="argument"/>, as typed) put into the scenario.</summary>
    public static ScenarioException InArgument(string argument, string field, string problem) =>
        new($"{argument}: {field}: {problem}", argument, 0, 0, field, problem);

    public string File { get; }
    public long Line { get; }
    public long Column { get; }
    public string Field { get; }
    public string Problem { get; }
}
