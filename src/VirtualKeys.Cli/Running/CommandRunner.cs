using System.Net;
using k8s.Autorest;
using k8s.Exceptions;
using VirtualKeys.Cli.Kubernetes;

namespace VirtualKeys.Cli.Running;

/// <summary>
/// Runs a command's body and turns the failures a user can meet (a refusal of the API server, an
/// unreachable server, a bad kubeconfig, Ctrl+C) into one line on stderr and a non-zero exit code.
/// </summary>
internal static class CommandRunner
{
    public const int Failure = 1;

    /// <summary>The shell's exit code for a process ended by SIGINT.</summary>
    public const int Interrupted = 130;

    public static async Task<int> RunAsync(string commandName, TextWriter stderr, CancellationToken cancellationToken, Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (CliException ex)
        {
            return Fail(stderr, commandName, ex.Message);
        }
        catch (HttpOperationException ex)
        {
            return Fail(stderr, commandName, $"the Kubernetes API server answered {(int)ex.Response.StatusCode}: {StatusMessage(ex)}");
        }
        catch (HttpRequestException ex)
        {
            return Fail(stderr, commandName, $"cannot reach the Kubernetes API server: {ex.Message}");
        }
        catch (KubeConfigException ex)
        {
            return Fail(stderr, commandName, $"cannot use the kubeconfig: {ex.Message}");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            stderr.WriteLine($"vk {commandName}: interrupted");
            return Interrupted;
        }
    }

    /// <summary>The message of the metav1.Status the server sent, else the HTTP reason.</summary>
    public static string StatusMessage(HttpOperationException ex) =>
        ApiStatus.From(ex).Message ?? ex.Response?.ReasonPhrase ?? ex.Message;

    public static bool IsStatus(HttpOperationException ex, HttpStatusCode code) => ex.Response?.StatusCode == code;

    private static int Fail(TextWriter stderr, string commandName, string message)
    {
        stderr.WriteLine($"vk {commandName}: {message}");
        return Failure;
    }
}
