namespace VirtualKeys.Operator.Rbac;

/// <summary>One verb on one resource, with the code path that needs it.</summary>
public sealed record PermissionRule(string ApiGroup, string Resource, string Verb, string UsedBy);
