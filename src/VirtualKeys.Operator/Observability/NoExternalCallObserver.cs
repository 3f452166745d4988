namespace VirtualKeys.Operator.Observability;

public sealed class NoExternalCallObserver : IExternalCallObserver
{
    public static NoExternalCallObserver Instance { get; } = new();

    public void BeforeCall(string operation)
    {
    }
}
