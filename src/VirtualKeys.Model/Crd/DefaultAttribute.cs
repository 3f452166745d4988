namespace VirtualKeys.Model.Crd;

/// <summary>
/// Sets the schema's <c>default</c>, which the API server writes into objects that omit the field.
/// Keep it equal to the property's initial value in C# so both sides agree on an omitted field.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class DefaultAttribute(object value) : Attribute
{
    public object Value { get; } = value;
}
