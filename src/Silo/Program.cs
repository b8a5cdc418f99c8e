using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Shootdown.Silo;

// A standalone silo on loopback: shootdown-silo [silo-port gateway-port primary-silo-port cluster-id].
// Silo 0 (silo port == primary port) hosts localhost membership; others join it.
var siloPort = args.Length > 0 ? int.Parse(args[0]) : 11111;
var gatewayPort = args.Length > 1 ? int.Parse(args[1]) : 30000;
var primaryPort = args.Length > 2 ? int.Parse(args[2]) : 11111;
var clusterId = args.Length > 3 ? args[3] : "shootdown-dev";
using var host = ShootdownSilo.BuildLocalhostSilo(siloPort == primaryPort ? 0 : 1, siloPort, gatewayPort, primaryPort, clusterId, LogLevel.Information);
await host.RunAsync();
