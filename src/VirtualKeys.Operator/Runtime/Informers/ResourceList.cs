namespace VirtualKeys.Operator.Runtime.Informers;

/// <summary>A list response: its items and the resource version a watch resumes from.</summary>
public sealed record ResourceList<T>(IReadOnlyList<T> Items, string ResourceVersion);
