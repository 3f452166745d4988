namespace VirtualKeys.Model.Crd;

/// <summary>
/// The CRD names that <see cref="k8s.Models.KubernetesEntityAttribute"/> does not carry. Resources are
/// namespaced unless <see cref="ClusterScoped"/> is set.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ResourceNamesAttribute(string singular) : Attribute
{
    public string Singular { get; } = singular;

    public string[] ShortNames { get; init; } = [];

    public string[] Categories { get; init; } = [];

    public bool ClusterScoped { get; init; }
}
