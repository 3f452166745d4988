namespace VirtualKeys.Operator.Options;

/// <summary>A setting that stops the operator at start-up; the message is one line naming it.</summary>
public sealed class OperatorSettingsException : Exception
{
    public OperatorSettingsException()
    {
    }

    public OperatorSettingsException(string message)
        : base(message)
    {
    }

    public OperatorSettingsException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public OperatorSettingsException(string setting, string problem, string? value)
        : base(value is null ? $"Invalid setting {setting}: {problem}." : $"Invalid setting {setting}: {problem} (got '{value}').") =>
        Setting = setting;

    public string? Setting { get; }
}
