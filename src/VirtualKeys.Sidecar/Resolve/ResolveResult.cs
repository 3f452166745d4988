using VirtualKeys.Sidecar.Errors;

namespace VirtualKeys.Sidecar.Resolve;

internal readonly struct ResolveResult
{
    private ResolveResult(Decision? decision, Refusal refusal)
    {
        Decision = decision;
        Refusal = refusal;
    }

    public Decision? Decision { get; }

    public Refusal Refusal { get; }

    public static implicit operator ResolveResult(Decision decision) => new(decision, default);

    public static implicit operator ResolveResult(Refusal refusal) => new(null, refusal);
}
