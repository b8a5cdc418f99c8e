using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;

namespace Shootdown.Client.Running;

/// <summary>The dashboard's three endpoints, all on one address (loopback by default).</summary>
public sealed record DashboardEndpoints(IPAddress Address, int UiPort = 18888, int OtlpGrpcPort = 18889, int OtlpHttpPort = 18890)
{
    public Uri Ui => new($"http://{Host}:{UiPort}/");
    public Uri OtlpGrpc => new($"http://{Host}:{OtlpGrpcPort}/");
    public Uri OtlpHttp => new($"http://{Host}:{OtlpHttpPort}/");
    private string Host => Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{Address}]" : Address.ToString();
}

/// <summary>
/// The Aspire dashboard, run as a standalone OTLP viewer from its NuGet package
/// (<see cref="AspireDashboardPackage"/>; no Docker): unsecured, bound to the given address, with
/// the telemetry HTTP API (/api/telemetry) on. Stopping it kills the process.
/// </summary>
public sealed class AspireDashboard : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output;

    private AspireDashboard(Process process, StringBuilder output, DashboardEndpoints endpoints)
    {
        _process = process;
        _output = output;
        Endpoints = endpoints;
    }

    public DashboardEndpoints Endpoints { get; }

    /// <summary>Why the dashboard cannot run on this platform, or null.</summary>
    public static string? Unavailable() =>
        OperatingSystem.IsLinux() && RuntimeInformation.OSArchitecture == Architecture.X64 ? null
            : $"the packaged dashboard is built for linux-x64, not {RuntimeInformation.RuntimeIdentifier}";

    /// <summary>
    /// Starts the dashboard from its package, which NuGet fetches first if this host lacks it
    /// (<paramref name="fetching"/> is told); <see cref="DashboardUnavailableException"/> says why it cannot.
    /// </summary>
    public static async Task<AspireDashboard> StartAsync(DashboardEndpoints endpoints, Action<string>? fetching = null, CancellationToken cancellation = default)
    {
        if (Unavailable() is { } why) throw new DashboardUnavailableException(why);
        var executable = await AspireDashboardPackage.LocateAsync(fetching ?? (_ => { }), cancellation);
        var info = new ProcessStartInfo(executable)
        {
            WorkingDirectory = Path.GetDirectoryName(executable)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["ASPNETCORE_URLS"] = endpoints.Ui.ToString();
        info.Environment["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = endpoints.OtlpGrpc.ToString();
        info.Environment["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] = endpoints.OtlpHttp.ToString();
        // A local viewer for simulated machines: no login. It listens on loopback unless asked otherwise.
        info.Environment["ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"] = "true";
        info.Environment["ASPIRE_DASHBOARD_API_ENABLED"] = "true";
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        var process = Process.Start(info) ?? throw new DashboardUnavailableException($"cannot start {executable}");
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var dashboard = new AspireDashboard(process, output, endpoints);
        try
        {
            await dashboard.WaitUntilReadyAsync(cancellation);
            return dashboard;
        }
        catch
        {
            await dashboard.DisposeAsync();
            throw;
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null) return;
        lock (output) output.AppendLine(line);
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellation)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(90))
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"the Aspire dashboard exited with code {_process.ExitCode}:\n{Output}");
            try
            {
                using var response = await http.GetAsync(new Uri(Endpoints.Ui, "api/telemetry/resources"), cancellation);
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!cancellation.IsCancellationRequested)
            {
                // That attempt timed out; try again.
            }
            await Task.Delay(250, cancellation);
        }
        throw new TimeoutException($"the Aspire dashboard did not answer on {Endpoints.Ui} within 90 s:\n{Output}");
    }

    /// <summary>What the dashboard has printed so far.</summary>
    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    public Task WaitForExitAsync(CancellationToken cancellation) => _process.WaitForExitAsync(cancellation);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
