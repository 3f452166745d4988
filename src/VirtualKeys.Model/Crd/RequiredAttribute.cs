namespace VirtualKeys.Model.Crd;

/// <summary>Lists the property in its object's <c>required</c> in the generated schema.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class RequiredAttribute : Attribute;
