namespace VirtualKeys.LocalCluster.Api;

/// <summary>The fieldValidation query parameter. A real server defaults to Warn.</summary>
internal enum FieldValidationMode
{
    Warn,
    Strict,
    Ignore,
}
