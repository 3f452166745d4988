namespace VirtualKeys.Model.Crd;

/// <summary>Sets the schema's inclusive <c>maximum</c> of a numeric property.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class RangeMaximumAttribute(long maximum) : Attribute
{
    public long Maximum { get; } = maximum;
}
