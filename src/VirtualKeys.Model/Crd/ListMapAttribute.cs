namespace VirtualKeys.Model.Crd;

/// <summary>
/// Marks a list as <c>x-kubernetes-list-type: map</c> keyed by the given fields: the API server rejects
/// two items with the same key, and server-side apply merges items by key instead of replacing the list.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class ListMapAttribute(params string[] keys) : Attribute
{
    public IReadOnlyList<string> Keys { get; } = keys;
}
