namespace VirtualKeys.Registry.Quotas;

/// <summary>
/// A return reached PostgreSQL and no answer says what became of it: the connection broke after the
/// batch went out, or the cancellation of a statement cut short was not answered. PostgreSQL may have
/// committed it or not, so the caller can neither keep what it sent nor take it as given back.
/// (A return that failed with any other exception left nothing behind.)
/// </summary>
public sealed class QuotaOutcomeUnknownException : Exception
{
    public QuotaOutcomeUnknownException()
        : this("The outcome of a quota return is unknown.")
    {
    }

    public QuotaOutcomeUnknownException(string message)
        : base(message)
    {
    }

    public QuotaOutcomeUnknownException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
