namespace VirtualKeys.Model.Crd;

/// <summary>Sets the schema's <c>minItems</c> and <c>maxItems</c> of a list property; a negative value sets nothing.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class ItemsAttribute : Attribute
{
    public int MinItems { get; init; } = -1;

    public int MaxItems { get; init; } = -1;
}
