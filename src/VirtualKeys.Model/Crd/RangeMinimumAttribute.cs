namespace VirtualKeys.Model.Crd;

/// <summary>Sets the schema's inclusive <c>minimum</c> of a numeric property.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class RangeMinimumAttribute(long minimum) : Attribute
{
    public long Minimum { get; } = minimum;
}
