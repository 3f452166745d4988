namespace VirtualKeys.Model;

/// <summary>The <c>reason</c> values of the conditions in <c>status.conditions</c> (CamelCase, for machines).</summary>
public static class ConditionReasons
{
    /// <summary>Ready is True: the registry holds the current spec and the token Secret exists.</summary>
    public const string Reconciled = "Reconciled";

    /// <summary>The spec breaks a rule the schema cannot express; the message lists every field.</summary>
    public const string InvalidSpec = "InvalidSpec";

    /// <summary>A provider's <c>secretRef.name</c> names a Secret that does not exist in the namespace.</summary>
    public const string SecretNotFound = "SecretNotFound";

    /// <summary>The provider Secret exists but has no (or an empty) entry under <c>secretRef.key</c>.</summary>
    public const string SecretKeyNotFound = "SecretKeyNotFound";

    /// <summary><c>spec.expiresAt</c> has passed.</summary>
    public const string Expired = "Expired";

    /// <summary><c>spec.suspended</c> is true.</summary>
    public const string Suspended = "Suspended";

    /// <summary>Spending in the current period has reached <c>spec.budget.maxCostUsd</c>.</summary>
    public const string BudgetExhausted = "BudgetExhausted";

    /// <summary>The PostgreSQL registry could not be reached; the operator retries with backoff.</summary>
    public const string RegistryUnavailable = "RegistryUnavailable";

    /// <summary>
    /// The API server refused the operator's write of the token Secret (403: RBAC or a policy; 422: a
    /// policy finds it invalid); the message names the Secret, the HTTP status and the API server's
    /// message. The operator retries with backoff.
    /// </summary>
    public const string TokenSecretRefused = "TokenSecretRefused";

    /// <summary>
    /// The registry holds this key as deleted: its tokens are refused for good, and no new one can be
    /// registered for it. A VirtualKey brought back after its deletion (an etcd restore), or one whose
    /// key another cluster's operator revoked in a registry they share, ends here: delete the VirtualKey
    /// and create it again for a new key.
    /// </summary>
    public const string Revoked = "Revoked";

    /// <summary>BudgetAlert is True: spending reached <c>spec.budget.alertAtPercent</c>.</summary>
    public const string AlertThresholdReached = "AlertThresholdReached";

    /// <summary>BudgetAlert is False: spending is below <c>spec.budget.alertAtPercent</c>.</summary>
    public const string BelowAlertThreshold = "BelowAlertThreshold";
}
