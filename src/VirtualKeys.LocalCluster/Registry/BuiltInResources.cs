using VirtualKeys.LocalCluster.Conversion;

namespace VirtualKeys.LocalCluster.Registry;

/// <summary>The built-in kinds this server serves, with the names and verbs a real cluster lists.</summary>
internal static class BuiltInResources
{
    public static IReadOnlyList<ResourceType> Create() =>
    [
        new()
        {
            Group = "", Version = "v1", Plural = "namespaces", Singular = "namespace", Kind = "Namespace", ListKind = "NamespaceList",
            Namespaced = false, Strategy = ResourceStrategy.Namespace, StorageKey = "/namespaces", StorageApiVersion = "v1",
            ShortNames = ["ns"], Verbs = ["create", "delete", "get", "list", "patch", "update", "watch"],
            HasStatusSubresource = true, Schema = BuiltInSchemas.Namespace, SelectableFields = ["status.phase"],
        },
        new()
        {
            Group = "", Version = "v1", Plural = "secrets", Singular = "secret", Kind = "Secret", ListKind = "SecretList",
            Namespaced = true, Strategy = ResourceStrategy.Secret, StorageKey = "/secrets", StorageApiVersion = "v1",
            Schema = BuiltInSchemas.Secret, SelectableFields = ["type"],
        },
        new()
        {
            Group = "", Version = "v1", Plural = "configmaps", Singular = "configmap", Kind = "ConfigMap", ListKind = "ConfigMapList",
            Namespaced = true, Strategy = ResourceStrategy.ConfigMap, StorageKey = "/configmaps", StorageApiVersion = "v1",
            ShortNames = ["cm"], Schema = BuiltInSchemas.ConfigMap,
        },
        new()
        {
            Group = "", Version = "v1", Plural = "events", Singular = "event", Kind = "Event", ListKind = "EventList",
            Namespaced = true, Strategy = ResourceStrategy.Event, StorageKey = "/events", StorageApiVersion = "v1",
            ShortNames = ["ev"], Schema = BuiltInSchemas.Event, AllowCreateOnUpdate = true,
            SelectableFields =
            [
                "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                "reason", "reportingComponent", "source", "type",
            ],
        },
        new()
        {
            Group = "events.k8s.io", Version = "v1", Plural = "events", Singular = "event", Kind = "Event", ListKind = "EventList",
            Namespaced = true, Strategy = ResourceStrategy.Event, StorageKey = "/events", StorageApiVersion = "v1",
            ShortNames = ["ev"], Schema = BuiltInSchemas.EventV1, AllowCreateOnUpdate = true, Converter = new EventV1Converter(),
            SelectableFields =
            [
                "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                "reason", "reportingComponent", "source", "type",
            ],
        },
        new()
        {
            Group = "coordination.k8s.io", Version = "v1", Plural = "leases", Singular = "lease", Kind = "Lease", ListKind = "LeaseList",
            Namespaced = true, Strategy = ResourceStrategy.Lease, StorageKey = "coordination.k8s.io/leases",
            StorageApiVersion = "coordination.k8s.io/v1", Schema = BuiltInSchemas.Lease,
        },
        new()
        {
            Group = "apiextensions.k8s.io", Version = "v1", Plural = "customresourcedefinitions", Singular = "customresourcedefinition",
            Kind = "CustomResourceDefinition", ListKind = "CustomResourceDefinitionList", Namespaced = false,
            Strategy = ResourceStrategy.CustomResourceDefinition, StorageKey = "apiextensions.k8s.io/customresourcedefinitions",
            StorageApiVersion = "apiextensions.k8s.io/v1", ShortNames = ["crd", "crds"], Categories = ["api-extensions"],
            HasStatusSubresource = true, Schema = BuiltInSchemas.CustomResourceDefinition, TracksGeneration = true,
            AllowUnconditionalUpdate = false,
        },
    ];
}
