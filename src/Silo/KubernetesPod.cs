using System.Net;
using Orleans.Hosting.Kubernetes;
using Shootdown.Hosting;

namespace Shootdown.Silo;

/// <summary>
/// What a silo in a pod reads from the environment that deploy/k8s/silo.yaml sets through the
/// downward API: the variables Microsoft.Orleans.Hosting.Kubernetes reads, by its own names.
/// </summary>
public static class KubernetesPod
{
    /// <summary>Every variable the silo needs in a pod, with what it is for.</summary>
    public static readonly IReadOnlyList<(string Name, string Meaning)> Variables =
    [
        (KubernetesHostingOptions.PodNameEnvironmentVariable, "the pod's name (metadata.name)"),
        (KubernetesHostingOptions.PodNamespaceEnvironmentVariable, "the pod's namespace (metadata.namespace)"),
        (KubernetesHostingOptions.PodIPEnvironmentVariable, "the pod's address (status.podIP)"),
        (KubernetesHostingOptions.ClusterIdEnvironmentVariable, "the cluster id"),
        (KubernetesHostingOptions.ServiceIdEnvironmentVariable, $"the service id, '{ShootdownSilo.ServiceId}'"),
    ];

    /// <summary>Why the environment is not a pod's the silo can run in, or null.</summary>
    public static string? Problem(Func<string, string?> environment)
    {
        var missing = Variables.Where(v => string.IsNullOrEmpty(environment(v.Name))).Select(v => $"{v.Name} ({v.Meaning})").ToList();
        if (missing.Count > 0) return $"the environment lacks {string.Join(", ", missing)}";
        if (!IPAddress.TryParse(environment(KubernetesHostingOptions.PodIPEnvironmentVariable), out _))
            return $"{KubernetesHostingOptions.PodIPEnvironmentVariable} '{environment(KubernetesHostingOptions.PodIPEnvironmentVariable)}' is not an IP address";
        if (environment(KubernetesHostingOptions.ServiceIdEnvironmentVariable) != ShootdownSilo.ServiceId)
            return $"{KubernetesHostingOptions.ServiceIdEnvironmentVariable} must be '{ShootdownSilo.ServiceId}', as clients expect";
        return ClusterOptionsText.ClusterIdProblem(ClusterId(environment)) is { } idProblem
            ? $"{KubernetesHostingOptions.ClusterIdEnvironmentVariable}: {idProblem}"
            : null;
    }

    public static IPAddress Address(Func<string, string?> environment) =>
        IPAddress.Parse(environment(KubernetesHostingOptions.PodIPEnvironmentVariable)!);

    public static string ClusterId(Func<string, string?> environment) => environment(KubernetesHostingOptions.ClusterIdEnvironmentVariable)!;
}
