namespace VirtualKeys.Operator.Runtime.Informers;

/// <summary>
/// Receives an informer's changes, one at a time and in order for each object. Calls run on the
/// informer's loop: keep them short (enqueue a key), never block.
/// </summary>
public interface IResourceEventHandler<in T>
{
    void OnAdded(T obj);

    /// <summary>
    /// A change, or a periodic resync; a resync passes the same instance as
    /// <paramref name="oldObj"/> and <paramref name="newObj"/>.
    /// </summary>
    void OnUpdated(T oldObj, T newObj);

    /// <summary>
    /// A deletion seen on the watch, or synthesized when a relist no longer holds the object;
    /// <paramref name="obj"/> is the last state known.
    /// </summary>
    void OnDeleted(T obj);
}
