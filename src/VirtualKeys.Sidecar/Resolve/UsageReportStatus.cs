namespace VirtualKeys.Sidecar.Resolve;

/// <param name="Succeeded">Whether the provider answered successfully.</param>
/// <param name="Detail">The HTTP status or the word the router sent, kept on the usage record.</param>
public readonly record struct UsageReportStatus(bool Succeeded, string Detail);
