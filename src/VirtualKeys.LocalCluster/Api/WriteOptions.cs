namespace VirtualKeys.LocalCluster.Api;

internal sealed record WriteOptions(bool DryRun = false, FieldValidationMode FieldValidation = FieldValidationMode.Warn)
{
    public static WriteOptions Internal { get; } = new(FieldValidation: FieldValidationMode.Ignore);

    /// <summary>Duplicate JSON fields found while reading the body (reported as Strict/Warn demands).</summary>
    public IReadOnlyList<string> DuplicateFields { get; init; } = [];
}
