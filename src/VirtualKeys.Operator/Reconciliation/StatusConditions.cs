using k8s;
using k8s.Models;
using VirtualKeys.Model;

namespace VirtualKeys.Operator.Reconciliation;

/// <summary>Condition bookkeeping after the Kubernetes API conventions.</summary>
public static class StatusConditions
{
    public const string True = "True";

    public const string False = "False";

    public static V1Condition? Find(VirtualKeyStatus? status, string type) =>
        status?.Conditions?.FirstOrDefault(c => c.Type == type);

    /// <summary>
    /// Sets a condition; its lastTransitionTime moves only when its status flips.
    /// </summary>
    public static void Set(VirtualKeyStatus status, string type, string value, string reason, string message, long? generation, DateTimeOffset now)
    {
        status.Conditions ??= [];
        var existing = status.Conditions.FirstOrDefault(c => c.Type == type);
        var transition = existing is not null && existing.Status == value && existing.LastTransitionTime != default
            ? existing.LastTransitionTime
            : TruncateToSeconds(now);
        var condition = new V1Condition
        {
            Type = type,
            Status = value,
            Reason = reason,
            Message = message,
            ObservedGeneration = generation,
            LastTransitionTime = transition,
        };
        if (existing is null)
        {
            status.Conditions.Add(condition);
        }
        else
        {
            status.Conditions[status.Conditions.IndexOf(existing)] = condition;
        }
    }

    public static VirtualKeyStatus Copy(VirtualKeyStatus? status) =>
        status is null ? new VirtualKeyStatus() : KubernetesJson.Deserialize<VirtualKeyStatus>(KubernetesJson.Serialize(status));

    public static bool Same(VirtualKeyStatus? a, VirtualKeyStatus? b) =>
        string.Equals(KubernetesJson.Serialize(a ?? new VirtualKeyStatus()), KubernetesJson.Serialize(b ?? new VirtualKeyStatus()), StringComparison.Ordinal);

    private static DateTime TruncateToSeconds(DateTimeOffset now)
    {
        var utc = now.UtcDateTime;
        return new DateTime(utc.Ticks - (utc.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);
    }
}
