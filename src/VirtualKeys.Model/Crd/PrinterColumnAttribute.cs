namespace VirtualKeys.Model.Crd;

/// <summary>A column of <c>kubectl get</c>, in ascending <see cref="Order"/>.</summary>
/// <param name="order">Position among the resource's columns.</param>
/// <param name="name">The column header.</param>
/// <param name="type">The OpenAPI type: <c>string</c>, <c>integer</c>, <c>number</c>, <c>boolean</c> or <c>date</c>.</param>
/// <param name="jsonPath">A JSONPath into the object, e.g. <c>.spec.defaultModel</c>.</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class PrinterColumnAttribute(int order, string name, string type, string jsonPath) : Attribute
{
    public int Order { get; } = order;

    public string Name { get; } = name;

    public string Type { get; } = type;

    public string JsonPath { get; } = jsonPath;
}
