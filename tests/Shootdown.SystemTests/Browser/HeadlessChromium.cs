using System.Text.Json;
using System.Text.Json.Nodes;
using PuppeteerSharp;

namespace Shootdown.Tests.Browser;

/// <summary>
/// Debian's Chromium, headless, driven by PuppeteerSharp (which downloads nothing when given the
/// browser): navigate, collect console errors and uncaught exceptions, evaluate script, take a
/// screenshot. The launch flags are those that work as root in a container (no sandbox, no GPU,
/// no network side traffic).
/// </summary>
internal sealed class HeadlessChromium : IAsyncDisposable
{
    private const string Executable = "/usr/bin/chromium";
    private readonly IBrowser _browser;
    private readonly IPage _page;
    private readonly List<string> _errors = new();

    private HeadlessChromium(IBrowser browser, IPage page)
    {
        (_browser, _page) = (browser, page);
        _page.Console += (_, e) =>
        {
            if (e.Message.Type is ConsoleType.Error or ConsoleType.Assert) Error("console: " + e.Message.Text);
        };
        _page.PageError += (_, e) => Error("uncaught: " + e.Message);
    }

    /// <summary>Console errors (the page's, and the browser's log entries), uncaught exceptions seen so far.</summary>
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
        var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = Executable,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            DefaultViewport = new ViewPortOptions { Width = 1400, Height = 1000 },
            Timeout = 30_000,
        });
        try
        {
            var pages = await browser.PagesAsync();
            return new HeadlessChromium(browser, pages.Length > 0 ? pages[0] : await browser.NewPageAsync());
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    public async Task NavigateAsync(string url) =>
        await _page.GoToAsync(url, new NavigationOptions { WaitUntil = [WaitUntilNavigation.Load], Timeout = 60_000 });

    /// <summary>Evaluates <paramref name="expression"/> in the page and returns its value as JSON.</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression) =>
        JsonNode.Parse((await _page.EvaluateExpressionAsync<JsonElement>(expression)).GetRawText());

    /// <summary>What the viewport shows, as PNG.</summary>
    public Task<byte[]> ScreenshotPngAsync() => _page.ScreenshotDataAsync(new ScreenshotOptions { Type = ScreenshotType.Png });

    private void Error(string text)
    {
        lock (_errors) _errors.Add(text);
    }

    public async ValueTask DisposeAsync() => await _browser.DisposeAsync();
}
