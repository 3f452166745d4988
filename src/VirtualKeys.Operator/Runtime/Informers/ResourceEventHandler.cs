namespace VirtualKeys.Operator.Runtime.Informers;

/// <summary>An <see cref="IResourceEventHandler{T}"/> from delegates; a missing delegate ignores that event.</summary>
public sealed class ResourceEventHandler<T>(
    Action<T>? onAdded = null,
    Action<T, T>? onUpdated = null,
    Action<T>? onDeleted = null) : IResourceEventHandler<T>
{
    public void OnAdded(T obj) => onAdded?.Invoke(obj);

    public void OnUpdated(T oldObj, T newObj) => onUpdated?.Invoke(oldObj, newObj);

    public void OnDeleted(T obj) => onDeleted?.Invoke(obj);
}
