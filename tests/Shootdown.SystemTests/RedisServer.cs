using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Shootdown.Client.Running;

namespace Shootdown.Tests;

/// <summary>
/// A redis-server of a test's own on 127.0.0.1 (installed by scripts/install-test-deps.sh), with
/// nothing kept on disk, so a restart is a Redis that comes back empty. Killed when disposed.
/// </summary>
public sealed class RedisServer : IDisposable
{
    private readonly string[] _extra;
    private Process _process;

    public int Port { get; }
    public DnsEndPoint Endpoint => new("127.0.0.1", Port);

    public RedisServer(int? port = null, params string[] extra)
    {
        Port = port ?? EmbeddedCluster.FreePorts(1)[0];
        _extra = extra;
        _process = Start();
    }

    private Process Start()
    {
        var redis = Process.Start(new ProcessStartInfo("redis-server", ["--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", .. _extra])
            { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var probe = new TcpClient();
                probe.Connect(IPAddress.Loopback, Port);
                return redis;
            }
            catch (SocketException)
            {
                Thread.Sleep(100);
            }
        }
        redis.Kill();
        throw new InvalidOperationException($"redis-server did not listen on {Port}");
    }

    /// <summary>kill -9, as a crashed or OOM-killed Redis goes.</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
        _process.Kill();
        _process.WaitForExit();
    }

    /// <summary>Killed and started again on the same port, empty.</summary>
    public void Restart()
    {
        Kill();
        _process = Start();
    }

    /// <summary>SIGSTOP for <paramref name="pause"/>, then SIGCONT: a Redis that stops answering but keeps its connections, as a stalled host does.</summary>
    public async Task PauseAsync(TimeSpan pause)
    {
        Signal("STOP");
        try
        {
            await Task.Delay(pause);
        }
        finally
        {
            Signal("CONT");
        }
    }

    private void Signal(string name) => Process.Start("kill", [$"-{name}", _process.Id.ToString()]).WaitForExit();

    public void Dispose()
    {
        if (_process.HasExited) return;
        Signal("CONT");
        _process.Kill();
        _process.WaitForExit();
    }
}
