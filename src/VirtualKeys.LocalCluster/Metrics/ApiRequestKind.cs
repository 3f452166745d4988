namespace VirtualKeys.LocalCluster;

/// <summary>
/// What a resource request asked for, in kube-apiserver's terms: the verb (get, list, watch,
/// create, update, patch, delete, deletecollection), the resource's plural and the subresource
/// ("status", "scale"; empty for the resource itself).
/// </summary>
public readonly record struct ApiRequestKind(string Verb, string Resource, string Subresource)
{
    /// <summary>True for the verbs that change stored objects.</summary>
    public bool IsWrite => Verb is "create" or "update" or "patch" or "delete" or "deletecollection";

    public override string ToString() =>
        Subresource.Length == 0 ? $"{Verb} {Resource}" : $"{Verb} {Resource}/{Subresource}";
}
