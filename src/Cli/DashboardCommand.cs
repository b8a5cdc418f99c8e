using System.CommandLine;
using System.Net;
using Shootdown.Client.Running;
using Shootdown.Hosting;

namespace Shootdown.Cli;

/// <summary>
/// <c>shootdown dashboard [--host ADDR] [--port N] [--otlp-grpc-port N] [--otlp-http-port N]</c>:
/// starts the Aspire dashboard from its NuGet package, prints its URLs and how to send a run
/// to it, and keeps it up until Ctrl-C.
/// </summary>
internal static class DashboardCommand
{
    public static Command Create()
    {
        var host = new Option<string>("--host") { Description = "The address every endpoint listens on.", DefaultValueFactory = _ => "127.0.0.1" };
        host.Validators.Add(r =>
        {
            if (!IPAddress.TryParse(r.GetValueOrDefault<string>(), out _)) r.AddError($"--host '{r.GetValueOrDefault<string>()}' is not an IP address");
        });
        var ui = NumberOptions.Port("--port", "The dashboard's web UI.", 18888);
        var grpc = NumberOptions.Port("--otlp-grpc-port", "OTLP over gRPC.", 18889);
        var http = NumberOptions.Port("--otlp-http-port", "OTLP over HTTP.", 18890);
        var insecure = new Option<bool>("--insecure")
        {
            Description = "Allow a --host beyond loopback: the dashboard runs without a login, so whoever reaches it sees and sends telemetry.",
        };
        var command = new Command("dashboard", "Start the Aspire dashboard (from its NuGet package, no Docker) to view a run's traces and metrics.")
        {
            host, ui, grpc, http, insecure,
        };
        command.SetAction(async (parse, cancellation) =>
        {
            if (!IPAddress.IsLoopback(IPAddress.Parse(parse.GetValue(host)!)) && !parse.GetValue(insecure))
            {
                Console.Error.WriteLine($"shootdown: --host {parse.GetValue(host)} is beyond loopback and the dashboard runs without a login: " +
                                        "give --insecure to serve it there anyway, or reach it through an SSH tunnel");
                return 2;
            }
            var endpoints = new DashboardEndpoints(IPAddress.Parse(parse.GetValue(host)!), parse.GetValue(ui), parse.GetValue(grpc), parse.GetValue(http));
            AspireDashboard dashboard;
            try
            {
                dashboard = await AspireDashboard.StartAsync(endpoints, notice => Console.Error.WriteLine($"shootdown: {notice}"), cancellation);
            }
            catch (DashboardUnavailableException e)
            {
                Console.Error.WriteLine($"shootdown: cannot start the Aspire dashboard: {e.Message}");
                return 1;
            }
            await using var _ = dashboard;
            Console.WriteLine($"Aspire dashboard: {endpoints.Ui}");
            Console.WriteLine($"OTLP gRPC:        {endpoints.OtlpGrpc}");
            Console.WriteLine($"OTLP HTTP:        {endpoints.OtlpHttp}");
            Console.WriteLine();
            Console.WriteLine("Send a run to it from another terminal:");
            Console.WriteLine($"  {SelfCommand.Invocation()} run scenarios/khugepaged-4096.yaml --otlp-endpoint {endpoints.OtlpGrpc}");
            Console.WriteLine("Ctrl-C stops the dashboard.");
            try
            {
                await dashboard.WaitForExitAsync(cancellation);
                Console.Error.WriteLine($"shootdown: the dashboard exited:\n{dashboard.Output}");
                return 1;
            }
            catch (OperationCanceledException)
            {
                return 0;
            }
        });
        return command;
    }

}
