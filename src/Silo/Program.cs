using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Shootdown.Silo;

// A standalone silo on loopback: shootdown-silo [SILO_PORT GATEWAY_PORT PRIMARY_SILO_PORT CLUSTER_ID].
// The silo whose port is the primary port hosts localhost membership; the others join it.
const string usage = "usage: shootdown-silo [SILO_PORT GATEWAY_PORT PRIMARY_SILO_PORT CLUSTER_ID]";
if (args.Length is not (0 or 4))
{
    Console.Error.WriteLine($"shootdown-silo: expected 0 or 4 arguments, got {args.Length}; {usage}");
    return 2;
}
var names = new[] { "SILO_PORT", "GATEWAY_PORT", "PRIMARY_SILO_PORT" };
var ports = new[] { 11111, 30000, 11111 };
for (var i = 0; i < args.Length && i < 3; i++)
{
    if (!int.TryParse(args[i], out ports[i]) || ports[i] is < 1 or > 65535)
    {
        Console.Error.WriteLine($"shootdown-silo: {names[i]} '{args[i]}' is not a port number (1-65535); {usage}");
        return 2;
    }
}
var clusterId = args.Length == 4 ? args[3] : "shootdown-dev";
using var host = ShootdownSilo.BuildLocalhostSilo(ports[0] == ports[2] ? 0 : 1, ports[0], ports[1], ports[2], clusterId, LogLevel.Information);
await host.RunAsync();
return 0;
