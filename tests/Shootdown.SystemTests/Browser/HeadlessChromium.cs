using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Shootdown.Tests.Browser;

/// <summary>
/// Debian's Chromium, headless, driven over the DevTools protocol on a WebSocket: navigate,
/// collect console errors and uncaught exceptions, evaluate script, take a screenshot. The
/// launch flags are those that work as root in a container (no sandbox, no GPU, no network
/// side traffic) with a fresh profile.
/// </summary>
internal sealed partial class HeadlessChromium : IAsyncDisposable
{
    private const string Executable = "/usr/bin/chromium";
    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private readonly List<string> _errors = new();
    private readonly Dictionary<int, TaskCompletionSource<JsonNode>> _pending = new();
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _nextId;
    private Task? _reader;

    private HeadlessChromium(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    /// <summary>Console errors, uncaught exceptions and error log entries seen so far.</summary>
    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (_errors) return [.. _errors];
        }
    }

    public static async Task<HeadlessChromium> LaunchAsync()
    {
        Assert.True(File.Exists(Executable), $"{Executable} is missing: scripts/install-test-deps.sh installs Debian's chromium");
        var profile = Directory.CreateTempSubdirectory("shootdown-chromium-").FullName;
        var info = new ProcessStartInfo(Executable) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[]
                 {
                     "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", $"--user-data-dir={profile}", "--remote-debugging-port=0",
                     "--window-size=1400,1000", "about:blank",
                 })
            info.ArgumentList.Add(arg);
        var process = Process.Start(info)!;
        var browser = new HeadlessChromium(process, profile);
        try
        {
            var endpoint = await browser.DevToolsEndpointAsync();
            using var http = new HttpClient();
            var targets = JsonNode.Parse(await http.GetStringAsync($"http://{endpoint}/json/list"))!.AsArray();
            var page = targets.First(t => (string?)t!["type"] == "page")!;
            await browser._socket.ConnectAsync(new Uri((string)page["webSocketDebuggerUrl"]!), CancellationToken.None);
            browser._reader = browser.ReadAsync();
            await browser.SendAsync("Runtime.enable");
            await browser.SendAsync("Log.enable");
            await browser.SendAsync("Page.enable");
            return browser;
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    [GeneratedRegex(@"DevTools listening on ws://([^/]+)/")]
    private static partial Regex DevToolsLine();

    private async Task<string> DevToolsEndpointAsync()
    {
        var deadline = Task.Delay(TimeSpan.FromSeconds(30));
        var seen = new StringBuilder();
        while (true)
        {
            var line = _process.StandardError.ReadLineAsync();
            if (await Task.WhenAny(line, deadline) == deadline) throw new TimeoutException($"chromium did not open DevTools:\n{seen}");
            var text = await line ?? throw new InvalidOperationException($"chromium exited:\n{seen}");
            seen.AppendLine(text);
            if (DevToolsLine().Match(text) is { Success: true } m)
            {
                // Keep draining stderr so chromium never blocks on a full pipe.
                _ = _process.StandardError.ReadToEndAsync();
                _ = _process.StandardOutput.ReadToEndAsync();
                return m.Groups[1].Value;
            }
        }
    }

    public async Task NavigateAsync(string url)
    {
        await SendAsync("Page.navigate", new JsonObject { ["url"] = url });
        if (await Task.WhenAny(_loaded.Task, Task.Delay(TimeSpan.FromSeconds(60))) != _loaded.Task) throw new TimeoutException($"{url} did not load");
    }

    /// <summary>Evaluates <paramref name="expression"/> in the page and returns its value as JSON.</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true });
        if (result["exceptionDetails"] is { } error) throw new InvalidOperationException($"{expression}: {error.ToJsonString()}");
        return result["result"]!["value"];
    }

    public async Task<byte[]> ScreenshotPngAsync()
    {
        var result = await SendAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png" });
        return Convert.FromBase64String((string)result["data"]!);
    }

    private async Task<JsonNode> SendAsync(string method, JsonObject? parameters = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonNode>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_pending) _pending[id] = reply;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
        if (await Task.WhenAny(reply.Task, Task.Delay(TimeSpan.FromSeconds(60))) != reply.Task) throw new TimeoutException($"{method}: no answer");
        var answer = await reply.Task;
        if (answer["error"] is { } failure) throw new InvalidOperationException($"{method}: {failure.ToJsonString()}");
        return answer["result"]!;
    }

    private async Task ReadAsync()
    {
        var buffer = new byte[1 << 16];
        var message = new MemoryStream();
        while (_socket.State == WebSocketState.Open)
        {
            WebSocketReceiveResult chunk;
            try
            {
                chunk = await _socket.ReceiveAsync(buffer, CancellationToken.None);
            }
            catch (WebSocketException)
            {
                return;
            }
            if (chunk.MessageType == WebSocketMessageType.Close) return;
            message.Write(buffer, 0, chunk.Count);
            if (!chunk.EndOfMessage) continue;
            var node = JsonNode.Parse(message.ToArray())!;
            message.SetLength(0);
            if (node["id"] is { } id)
            {
                TaskCompletionSource<JsonNode>? reply;
                lock (_pending) _pending.Remove((int)id, out reply);
                reply?.TrySetResult(node);
                continue;
            }
            var p = node["params"];
            var method = node["method"]?.GetValue<string>();
            if (method == "Page.loadEventFired") _loaded.TrySetResult();
            else if (method == "Runtime.exceptionThrown") Error("uncaught: " + p?["exceptionDetails"]?.ToJsonString());
            else if (method == "Runtime.consoleAPICalled" && p?["type"]?.GetValue<string>() is "error" or "assert")
                Error("console: " + p["args"]?.ToJsonString());
            else if (method == "Log.entryAdded" && p?["entry"]?["level"]?.GetValue<string>() == "error")
                Error("log: " + p["entry"]?["text"]);
        }
    }

    private void Error(string text)
    {
        lock (_errors) _errors.Add(text);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open) await SendAsync("Browser.close");
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or WebSocketException)
        {
            // Closing anyway.
        }
        if (!_process.WaitForExit(TimeSpan.FromSeconds(10))) _process.Kill(entireProcessTree: true);
        _socket.Dispose();
        _process.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // A crash reporter may still hold a file; the temp directory is cleaned by the OS.
        }
    }
}
