using VirtualKeys.Model;

namespace VirtualKeys.Operator.Rbac;

/// <summary>
/// The single list of API permissions the operator's code uses, each with its call site. The chart
/// grants exactly these (a test renders it and compares both ways): <see cref="Watched"/> in the
/// ClusterRole (or a Role per watched namespace), <see cref="LeaderElection"/> in a Role in the
/// lease's namespace. Add a call, add its rule here, and the test tells you to update the chart.
/// </summary>
public static class OperatorPermissions
{
    public static IReadOnlyList<PermissionRule> Watched { get; } =
    [
        new(WellKnown.Group, WellKnown.Plural, "list", "VirtualKey informer (ListWatchers.CustomResource)"),
        new(WellKnown.Group, WellKnown.Plural, "watch", "VirtualKey informer (ListWatchers.CustomResource)"),
        new(WellKnown.Group, WellKnown.Plural, "get", "VirtualKeyApi.RemoveFinalizerAsync (fresh copy after a conflict), VirtualKeyApi.GetAsync (orphaned key sweep)"),
        new(WellKnown.Group, WellKnown.Plural, "patch", "VirtualKeyApi.AddFinalizerAsync"),
        new(WellKnown.Group, WellKnown.Plural, "update", "VirtualKeyApi.RemoveFinalizerAsync"),
        new(WellKnown.Group, WellKnown.Plural + "/status", "update", "VirtualKeyApi.ReplaceStatusAsync (reconciler)"),
        new(WellKnown.Group, WellKnown.Plural + "/status", "patch", "VirtualKeyApi.PatchStatusAsync (usage syncer)"),
        new(WellKnown.Group, WellKnown.Plural + "/status", "get", "VirtualKeyApi.ReadStatusAsync (usage syncer after a conflict)"),
        new(WellKnown.Group, WellKnown.Plural + "/finalizers", "update", "token Secret ownerReference with blockOwnerDeletion (OwnerReferencesPermissionEnforcement)"),
        new("", "secrets", "list", "Secret informer (ListWatchers.Secrets)"),
        new("", "secrets", "watch", "Secret informer (ListWatchers.Secrets)"),
        new("", "secrets", "get", "VirtualKeyApi.ReadSecretAsync (token Secret that exists but is not cached yet)"),
        new("", "secrets", "create", "VirtualKeyApi.CreateSecretAsync (token Secret)"),
        new("", "secrets", "update", "VirtualKeyApi.ReplaceSecretAsync (token rotation)"),
        new("", "secrets", "patch", "VirtualKeyApi.PatchSecretOwnerAsync (restores a token Secret's owner reference)"),
        new("", "events", "create", "EventRecorder.RecordAsync (first occurrence)"),
        new("", "events", "patch", "EventRecorder.RecordAsync (repeat: count and lastTimestamp)"),
    ];

    public static IReadOnlyList<PermissionRule> LeaderElection { get; } =
    [
        new("coordination.k8s.io", "leases", "get", "LeaderElectionRunner (KubernetesClient LeaseLock) and its release"),
        new("coordination.k8s.io", "leases", "create", "LeaderElectionRunner (first term on a new Lease)"),
        new("coordination.k8s.io", "leases", "update", "LeaderElectionRunner (acquire, renew, release)"),
    ];
}
