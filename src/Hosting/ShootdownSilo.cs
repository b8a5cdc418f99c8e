using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Dashboard;
using Shootdown.Grains;
using Shootdown.Engine.Checkpoints;
using Shootdown.Grains.Checkpoints;
using Shootdown.Telemetry;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Shootdown.Hosting;

/// <summary>How every Shootdown silo is configured, whether embedded in the CLI, in tests or standalone.</summary>
public static class ShootdownSilo
{
    public const string ServiceId = "shootdown";

    /// <summary>The services the grains need, on any silo builder (tests use this with InProcessTestCluster).</summary>
    public static ISiloBuilder AddShootdown(this ISiloBuilder silo)
    {
        silo.Services.AddSingleton<SimulationCatalog>();
        // Unless the host keeps checkpoints somewhere sturdier (Redis), they live in this process.
        silo.Services.TryAddSingleton<ICheckpointStore, ProcessCheckpointStore>();
        // ...and are sealed with this process's own key, unless the host shares one with other processes.
        silo.Services.TryAddSingleton(CheckpointKey.Process);
        // A run's partition grain and the entities it drives share a silo.
        silo.AddPlacementDirector<PartitionPlacement, PartitionPlacementDirector>();
        // Grain calls join their caller's trace (Microsoft.Orleans.Application spans) where this
        // process exports them. Orleans' filters run on every grain call even when nothing
        // listens: about 1 µs of CPU a call, 7 % of a warm sparse grain run (docs/performance.md).
        if (ListensToGrainCalls()) silo.AddActivityPropagation();
        // SiloMessagingOptions, not their MessagingOptions base: Orleans binds options by their own
        // type, and configuring the base leaves the 30 s default in force.
        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = ResponseTimeout);
        return silo;
    }

    /// <summary>
    /// Whether something in this process, as the silo is built, records Orleans' grain-call spans:
    /// the pipeline of a traced command or of a silo started with telemetry, each started before
    /// its silos. A listener that comes later does not see this silo's grain calls.
    /// </summary>
    private static bool ListensToGrainCalls()
    {
        using var source = new ActivitySource(Instrumentation.OrleansSourceName);
        return source.HasListeners();
    }

    /// <summary>
    /// How long a grain call may take, on silos and clients alike. A coordinator's call advances a
    /// run by up to a few hundred windows, and one window of a large storm routes millions of
    /// events in one turn; Orleans' 30 s default would fail valid runs that are merely long.
    /// </summary>
    public static readonly TimeSpan ResponseTimeout = TimeSpan.FromMinutes(10);

    /// <summary>
    /// A silo as <paramref name="settings"/> place it. Ports are the caller's, so several
    /// embedded clusters never collide. With a dashboard endpoint, the host also serves the
    /// Orleans Dashboard on that web endpoint, at <see cref="DashboardPath"/>.
    /// <paramref name="hostOwn"/> is what the host adds once membership is set and before the
    /// endpoints are (the standalone silo's Kubernetes hosting, in a pod).
    /// </summary>
    public static IHost BuildSilo(SiloSettings settings, LogLevel logLevel = LogLevel.Warning, Action<ISiloBuilder>? hostOwn = null)
    {
        if (settings.Dashboard is not { } dashboard)
        {
            var builder = Host.CreateApplicationBuilder(HostArgs);
            Configure(builder, settings, logLevel, withDashboard: false, hostOwn);
            return builder.Build();
        }
        var web = WebApplication.CreateBuilder(HostArgs);
        Configure(web, settings, logLevel, withDashboard: true, hostOwn);
        web.WebHost.UseUrls($"http://{FormatHost(dashboard)}");
        var app = web.Build();
        app.MapOrleansDashboard(routePrefix: DashboardPath);
        return app;
    }

    /// <summary>
    /// What every host of ours, silo or client, is built with: configuration files are read once,
    /// never reloaded. By default a host watches its content root, the current directory, for
    /// changes to appsettings.json, with an inotify watch on every directory beneath it: started
    /// from a home directory that walks the whole tree and can use up the user's inotify watches, and
    /// each embedded silo takes one of the user's 128 inotify instances. A silo's settings never
    /// change under it.
    /// </summary>
    public static readonly string[] HostArgs = ["--hostBuilder:reloadConfigOnChange=false"];

    /// <summary>Where the Orleans Dashboard is mounted on a silo's web endpoint.</summary>
    public const string DashboardPath = "/dashboard";

    private static void Configure(IHostApplicationBuilder builder, SiloSettings settings, LogLevel logLevel, bool withDashboard, Action<ISiloBuilder>? hostOwn)
    {
        builder.Logging.SetMinimumLevel(logLevel);
        // Results go to standard output; every log line goes to standard error.
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        // The watchdog measures wall-clock gaps; a long CPU-bound simulation window trips it harmlessly.
        builder.Logging.AddFilter("Orleans.Runtime.Watchdog", LogLevel.Error);
        // So does a partition routing a 65,536-CPU broadcast in one turn; its window is still one turn, as it must be.
        builder.Logging.AddFilter("Orleans.Runtime.Scheduler.WorkItemGroup", LogLevel.Error);
        builder.UseOrleans(silo =>
        {
            switch (settings.Membership)
            {
                case Membership.Localhost localhost:
                    silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort,
                        settings.SiloPort == localhost.PrimarySiloPort ? null : new IPEndPoint(IPAddress.Loopback, localhost.PrimarySiloPort),
                        ServiceId, settings.ClusterId);
                    break;
                case Membership.Redis redis:
                    silo.UseRedisClustering(o => o.ConfigurationOptions = RedisOptions(redis));
                    RestoringMembershipTable.Decorate(silo.Services);
                    silo.Services.AddSingleton<ICheckpointStore>(_ => new RedisCheckpointStore(redis));
                    // Parts in Redis are read by other processes' silos: the key is the cluster's.
                    silo.Services.AddSingleton(settings.CheckpointKey ?? CheckpointKey.FromClusterId(settings.ClusterId));
                    silo.Configure<ClusterOptions>(o =>
                    {
                        o.ServiceId = ServiceId;
                        o.ClusterId = settings.ClusterId;
                    });
                    break;
            }
            // Our own settings below come after the host's, so a pod's hosting may read the
            // address and cluster id first and the settings repeat them.
            hostOwn?.Invoke(silo);
            silo.Configure<EndpointOptions>(o =>
            {
                o.AdvertisedIPAddress = settings.Advertise;
                o.SiloPort = settings.SiloPort;
                o.GatewayPort = settings.GatewayPort;
                o.SiloListeningEndpoint = new IPEndPoint(settings.Listen, settings.SiloPort);
                o.GatewayListeningEndpoint = new IPEndPoint(settings.Listen, settings.GatewayPort);
            });
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                // A killed silo refuses probes at once: three missed probes a second apart find it
                // within seconds rather than the default's quarter minute. Window turns do not delay
                // probes (they are answered by system targets, not grains).
                o.ProbeTimeout = TimeSpan.FromSeconds(1);
                o.NumMissedProbesLimit = 3;
                // The table is read every few seconds (one HGETALL on Redis), so a silo finds a lost
                // table soon after Redis comes back.
                o.TableRefreshTimeout = MembershipRefresh;
            });
            if (settings.Certificate is { } certificate) silo.UseTls(certificate, o => ClusterTls.Configure(o, certificate));
            silo.AddShootdown();
            if (withDashboard)
            {
                silo.AddDashboard();
                // The profiler times every grain call only while someone has the page open, by
                // default; a run started before the page was opened, or over before it was, would
                // show no calls. Traced always, its calls stay in the dashboard's history (100 s).
                silo.Services.Configure<Orleans.Dashboard.GrainProfilerOptions>(o => o.TraceAlways = true);
            }
        });
        // After UseOrleans, so that it replaces Orleans' handler, which fails fast with a stack.
        builder.Services.AddSingleton<IFatalErrorHandler, SiloFatalError>();
        StartupLogGate.AddTo(builder, logLevel);
    }

    /// <summary>
    /// How silos and clients reach Redis: a stated connect timeout, and a failed first connection
    /// is an error rather than a silent retry, so an unreachable Redis ends a start in seconds.
    /// </summary>
    public static StackExchange.Redis.ConfigurationOptions RedisOptions(Membership.Redis redis)
    {
        var options = new StackExchange.Redis.ConfigurationOptions
        {
            EndPoints = { redis.Server },
            ConnectTimeout = (int)RedisConnectTimeout.TotalMilliseconds,
            AbortOnConnectFail = true,
            ConnectRetry = 1,
            Password = redis.Password,
        };
        if (redis.Certificate is { } certificate)
        {
            // Redis presents the cluster certificate; no certificate authority is asked, as between silos.
            var pinned = certificate.GetCertHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            options.Ssl = true;
            options.SslHost = redis.Server.Host;
            options.CertificateValidation += (_, presented, _, _) =>
                presented is not null && presented.GetCertHash(System.Security.Cryptography.HashAlgorithmName.SHA256).AsSpan().SequenceEqual(pinned);
        }
        return options;
    }

    public static readonly TimeSpan RedisConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How often a silo reads the membership table.</summary>
    public static readonly TimeSpan MembershipRefresh = TimeSpan.FromSeconds(5);

    private static string FormatHost(IPEndPoint endpoint) =>
        endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{endpoint.Address}]:{endpoint.Port}" : endpoint.ToString();
}
