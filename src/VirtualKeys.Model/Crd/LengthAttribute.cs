namespace VirtualKeys.Model.Crd;

/// <summary>Sets the schema's <c>minLength</c> and <c>maxLength</c> of a string property; a negative value sets nothing.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class LengthAttribute : Attribute
{
    public int MinLength { get; init; } = -1;

    public int MaxLength { get; init; } = -1;
}
