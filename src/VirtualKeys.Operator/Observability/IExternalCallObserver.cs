namespace VirtualKeys.Operator.Observability;

/// <summary>
/// Told before every call the reconciler and the usage syncer make to the API server or the
/// registry, and once at the start of each reconcile (as <c>reconcile</c>). The operator's own is a
/// no-op; tests use it to count calls and reconciles, and to "crash" the process at a chosen call
/// by throwing.
/// </summary>
public interface IExternalCallObserver
{
    /// <param name="operation">What is about to be called, e.g. <c>api:secrets:create</c> or <c>registry:upsert</c>.</param>
    void BeforeCall(string operation);
}
