using System.Text.Json.Serialization;
using k8s.Models;
using VirtualKeys.Model.Crd;

namespace VirtualKeys.Model;

/// <summary>The observed state of a virtual key, written by the operator only.</summary>
public sealed class VirtualKeyStatus
{
    /// <summary>The metadata.generation of the spec that this status describes.</summary>
    [RangeMinimum(0)]
    [JsonPropertyName("observedGeneration")]
    public long? ObservedGeneration { get; set; }

    /// <summary>
    /// Ready says whether the key works right now and, if not, why (InvalidSpec, SecretNotFound,
    /// SecretKeyNotFound, Expired, Suspended, BudgetExhausted, RegistryUnavailable,
    /// TokenSecretRefused, Revoked); BudgetAlert turns True at budget.alertAtPercent.
    /// </summary>
    [ListMap("type")]
    [JsonPropertyName("conditions")]
    public IList<V1Condition> Conditions { get; set; } = [];

    /// <summary>The key's public identifier in the registry, shown in logs and metrics in place of the token.</summary>
    [JsonPropertyName("keyId")]
    public string? KeyId { get; set; }

    /// <summary>The Secret that holds the key's token (data key token).</summary>
    [JsonPropertyName("tokenSecretName")]
    public string? TokenSecretName { get; set; }

    /// <summary>Usage in the current budget period (the current calendar month when there is no budget).</summary>
    [JsonPropertyName("usage")]
    public UsageStatus? Usage { get; set; }

    /// <summary>budget.maxCostUsd less the period's spend, in US dollars, never below zero; absent without a budget.</summary>
    [JsonPropertyName("budgetRemainingUsd")]
    public string? BudgetRemainingUsd { get; set; }

    /// <summary>When the operator last copied usage from the registry into this status.</summary>
    [JsonPropertyName("lastUsageSync")]
    public DateTimeOffset? LastUsageSync { get; set; }
}
