using k8s;
using k8s.Models;

namespace VirtualKeys.Operator.Runtime.Informers;

public interface IResourceInformer<T> : IInformer, IResourceCache<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    void AddEventHandler(IResourceEventHandler<T> handler);
}
