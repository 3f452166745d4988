namespace VirtualKeys.Model.Validation;

/// <summary>One rule a VirtualKey breaks.</summary>
/// <param name="Field">The field path as a person would write it, e.g. <c>spec.providers[1].secretRef.name</c>.</param>
/// <param name="Message">What is wrong and how to fix it; never contains a secret value.</param>
public sealed record ValidationProblem(string Field, string Message)
{
    public override string ToString() => $"{Field}: {Message}";
}
