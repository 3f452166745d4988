namespace VirtualKeys.Model.Crd;

/// <summary>Sets the schema's <c>pattern</c> (an ECMA-262 regular expression) of a string property.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class PatternAttribute(string pattern) : Attribute
{
    public string Pattern { get; } = pattern;
}
