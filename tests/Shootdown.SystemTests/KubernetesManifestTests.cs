using Orleans.Hosting.Kubernetes;
using Shootdown.Hosting;
using Shootdown.Silo;
using YamlDotNet.RepresentationModel;

namespace Shootdown.Tests;

/// <summary>
/// deploy/k8s cannot be applied here (no Kubernetes), so what can be checked is: every manifest
/// parses, the names the manifests share agree (selectors, ports, service account, the Redis
/// service), the pods get every variable and label Microsoft.Orleans.Hosting.Kubernetes reads by
/// the names it reads them, and the silo accepts the container's arguments in that environment.
/// </summary>
public sealed class KubernetesManifestTests
{
    private static readonly string Dir = Path.Combine(NamespaceCluster.RepositoryRoot, "deploy", "k8s");

    private static readonly List<YamlMappingNode> Resources = Directory.GetFiles(Dir, "*.yaml")
        .Where(f => Path.GetFileName(f) != "kustomization.yaml")
        .SelectMany(f =>
        {
            var stream = new YamlStream();
            using var reader = new StreamReader(f);
            stream.Load(reader);
            return stream.Documents.Select(d => (YamlMappingNode)d.RootNode);
        }).ToList();

    private static YamlMappingNode Resource(string kind, string name) =>
        Resources.Single(r => Text(r, "kind") == kind && Text(r, "metadata", "name") == name);

    private static YamlNode Node(YamlNode node, params string[] path) =>
        path.Aggregate(node, (n, key) => ((YamlMappingNode)n).Children[new YamlScalarNode(key)]);

    private static string Text(YamlNode node, params string[] path) => ((YamlScalarNode)Node(node, path)).Value!;

    private static Dictionary<string, string> Map(YamlNode node, params string[] path) =>
        ((YamlMappingNode)Node(node, path)).Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value!, c => ((YamlScalarNode)c.Value).Value!);

    private static YamlMappingNode SiloContainer => (YamlMappingNode)((YamlSequenceNode)Node(Resource("Deployment", "shootdown-silo"),
        "spec", "template", "spec", "containers"))[0];

    private static Dictionary<string, YamlMappingNode> SiloEnvironment => ((YamlSequenceNode)Node(SiloContainer, "env"))
        .Cast<YamlMappingNode>().ToDictionary(e => Text(e, "name"));

    [Fact]
    public void EveryManifestParsesAndTheKustomizationListsThemAll()
    {
        Assert.All(Resources, r => Assert.NotEmpty(Text(r, "apiVersion") + Text(r, "kind") + Text(r, "metadata", "name")));
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(Dir, "kustomization.yaml"))));
        var listed = ((YamlSequenceNode)Node(stream.Documents[0].RootNode, "resources")).Select(n => ((YamlScalarNode)n).Value).Order();
        Assert.Equal(Directory.GetFiles(Dir, "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml").Order(), listed);
    }

    [Fact]
    public void PodsGetTheVariablesAndLabelsOrleansKubernetesHostingReads()
    {
        var environment = SiloEnvironment;
        Assert.All(KubernetesPod.Variables, v => Assert.Contains(v.Name, environment.Keys));
        Assert.Equal("metadata.name", Text(environment[KubernetesHostingOptions.PodNameEnvironmentVariable], "valueFrom", "fieldRef", "fieldPath"));
        Assert.Equal("metadata.namespace", Text(environment[KubernetesHostingOptions.PodNamespaceEnvironmentVariable], "valueFrom", "fieldRef", "fieldPath"));
        Assert.Equal("status.podIP", Text(environment[KubernetesHostingOptions.PodIPEnvironmentVariable], "valueFrom", "fieldRef", "fieldPath"));
        Assert.Equal(ShootdownSilo.ServiceId, Text(environment[KubernetesHostingOptions.ServiceIdEnvironmentVariable], "value"));
        var labels = Map(Resource("Deployment", "shootdown-silo"), "spec", "template", "metadata", "labels");
        Assert.Equal(ShootdownSilo.ServiceId, labels[KubernetesHostingOptions.ServiceIdLabel]);
        Assert.Equal(Text(environment[KubernetesHostingOptions.ClusterIdEnvironmentVariable], "value"), labels[KubernetesHostingOptions.ClusterIdLabel]);
    }

    [Fact]
    public void TheManifestsAgreeOnNamesSelectorsAndPorts()
    {
        var silo = Resource("Deployment", "shootdown-silo");
        var podLabels = Map(silo, "spec", "template", "metadata", "labels");
        void Selects(Dictionary<string, string> selector) => Assert.All(selector, kv => Assert.Equal(kv.Value, podLabels[kv.Key]));
        Selects(Map(silo, "spec", "selector", "matchLabels"));
        Selects(Map(Resource("Service", "shootdown-gateway"), "spec", "selector"));
        Selects(Map(Resource("PodDisruptionBudget", "shootdown-silo"), "spec", "selector", "matchLabels"));

        var ports = ((YamlSequenceNode)Node(SiloContainer, "ports")).Cast<YamlMappingNode>().ToDictionary(p => Text(p, "name"), p => Text(p, "containerPort"));
        var gateway = (YamlMappingNode)((YamlSequenceNode)Node(Resource("Service", "shootdown-gateway"), "spec", "ports"))[0];
        Assert.Contains(Text(gateway, "targetPort"), ports.Keys);
        Assert.Equal("11111", ports["silo"]);
        Assert.Equal("30000", ports["gateway"]);

        // The service account the pods run as is the one the role is bound to, and may watch and delete pods.
        var account = Text(silo, "spec", "template", "spec", "serviceAccountName");
        Assert.Equal(account, Text(Resource("ServiceAccount", account), "metadata", "name"));
        var binding = Resource("RoleBinding", account);
        Assert.Equal(account, Text(((YamlSequenceNode)Node(binding, "subjects"))[0], "name"));
        var rule = (YamlMappingNode)((YamlSequenceNode)Node(Resource("Role", Text(binding, "roleRef", "name")), "rules"))[0];
        var verbs = ((YamlSequenceNode)Node(rule, "verbs")).Select(v => ((YamlScalarNode)v).Value).ToList();
        Assert.All(new[] { "get", "list", "watch", "delete" }, v => Assert.Contains(v, verbs));

        // --redis names the Redis service and its port.
        var args = Arguments();
        var redis = args[args.IndexOf("--redis") + 1];
        var redisService = Resource("Service", redis[..redis.IndexOf(':')]);
        Assert.Equal(redis[(redis.IndexOf(':') + 1)..], Text(((YamlSequenceNode)Node(redisService, "spec", "ports"))[0], "port"));
        // The certificate, Redis's password and the checkpoint key are read from where their secrets are mounted.
        var mounts = ((YamlSequenceNode)Node(SiloContainer, "volumeMounts")).ToDictionary(m => Text(m, "name"), m => Text(m, "mountPath"));
        Assert.StartsWith(mounts["tls"] + "/", args[args.IndexOf("--tls-cert") + 1]);
        Assert.StartsWith(mounts["secrets"] + "/", args[args.IndexOf("--redis-password-file") + 1]);
        Assert.StartsWith(mounts["secrets"] + "/", args[args.IndexOf("--checkpoint-key") + 1]);
        Assert.Contains("--redis-tls", args);
        // Redis speaks TLS only, with the password from the same secret the silos mount.
        var redisArgs = ((YamlSequenceNode)Node(RedisContainer, "args")).Select(a => ((YamlScalarNode)a).Value!).ToList();
        Assert.Equal("0", redisArgs[redisArgs.IndexOf("--port") + 1]);
        Assert.Equal(redis[(redis.IndexOf(':') + 1)..], redisArgs[redisArgs.IndexOf("--tls-port") + 1]);
        Assert.Equal("$(REDIS_PASSWORD)", redisArgs[redisArgs.IndexOf("--requirepass") + 1]);
        var password = ((YamlSequenceNode)Node(RedisContainer, "env")).Single(e => Text(e, "name") == "REDIS_PASSWORD");
        Assert.Equal("redis-password", Text(password, "valueFrom", "secretKeyRef", "key"));
        var siloSecrets = ((YamlSequenceNode)Node(Resource("Deployment", "shootdown-silo"), "spec", "template", "spec", "volumes"))
            .Single(v => Text(v, "name") == "secrets");
        Assert.Equal(Text(password, "valueFrom", "secretKeyRef", "name"), Text(siloSecrets, "secret", "secretName"));
    }

    private static YamlMappingNode RedisContainer =>
        (YamlMappingNode)((YamlSequenceNode)Node(Resource("Deployment", "shootdown-redis"), "spec", "template", "spec", "containers"))[0];

    private static List<string> Arguments() => ((YamlSequenceNode)Node(SiloContainer, "args")).Select(a => ((YamlScalarNode)a).Value!).ToList();

    [Fact]
    public async Task TheSiloAcceptsTheContainersArgumentsInThePodsEnvironment()
    {
        // The mounted certificate is replaced by a development one, and the downward API by values
        // a pod would get; the silo then passes every check of its own and stops only where it
        // asks the Kubernetes API, which a pod has and this machine does not.
        var certificate = Path.Combine(Sim.TempDir(), "cluster.pfx");
        Assert.Equal(0, (await NamespaceCluster.RunScriptAsync("make-dev-cert.sh", certificate)).Exit);
        var args = Arguments();
        args[args.IndexOf("--tls-cert") + 1] = certificate;
        var secrets = Sim.TempDir();
        args[args.IndexOf("--redis-password-file") + 1] = Sim.Write(secrets, "redis-password", "a-password\n");
        File.WriteAllBytes(args[args.IndexOf("--checkpoint-key") + 1] = Path.Combine(secrets, "checkpoint.key"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var environment = SiloEnvironment.ToDictionary(e => e.Key, e => e.Value.Children.ContainsKey(new YamlScalarNode("value"))
            ? Text(e.Value, "value")
            : Text(e.Value, "valueFrom", "fieldRef", "fieldPath") switch { "status.podIP" => "127.0.0.1", var field => $"test-{field.Replace('.', '-')}" });
        var (exit, _, stderr) = Cli.Dotnet(AppContext.BaseDirectory, [Path.Combine(AppContext.BaseDirectory, "shootdown-silo.dll"), .. args], environment);
        Assert.Equal(1, exit);
        Assert.StartsWith("shootdown-silo: could not start: Unable to load in-cluster configuration", stderr.Trim());
        Assert.Single(stderr.Trim().Split('\n'));
    }
}
