namespace VirtualKeys.Sidecar.Errors;

public sealed class ErrorDetail
{
    public required string Type { get; init; }

    public required string Code { get; init; }

    public required string Message { get; init; }

    public string? Param { get; init; }
}
