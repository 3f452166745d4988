namespace VirtualKeys.Cli.Running;

/// <summary>A failure the user can act on; its message is printed after the command's name, without a stack trace.</summary>
internal sealed class CliException(string message, Exception? inner = null) : Exception(message, inner);
