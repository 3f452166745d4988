namespace VirtualKeys.Reliability.Tests.BadInput;

/// <summary>What a bad manifest must run into.</summary>
internal enum ManifestOutcome
{
    /// <summary>The API server refuses it against the CRD schema, naming the field.</summary>
    Schema,

    /// <summary>The API server stores it; the operator sets Ready=False with a reason and names the field.</summary>
    Condition,
}
