using System.Net;
using k8s;
using k8s.Autorest;

namespace VirtualKeys.Operator.Runtime.Informers;

internal static class WatchErrors
{
    /// <summary>
    /// The resource version asked for is older than the server keeps: the only way back is a
    /// fresh list. Comes as an ERROR watch event with code 410, or as HTTP 410 on the request.
    /// </summary>
    public static bool IsGone(Exception exception) => exception switch
    {
        KubernetesException { Status.Code: (int)HttpStatusCode.Gone } => true,
        KubernetesException { Status.Reason: "Expired" or "Gone" } => true,
        HttpOperationException { Response.StatusCode: HttpStatusCode.Gone } => true,
        _ => false,
    };

    /// <summary>
    /// What went wrong, in the API server's words where it gave any: the client's own message for a
    /// refused request says only the status ("Operation returned an invalid status code
    /// 'Forbidden'"), while the Status body names the user, verb, resource and namespace.
    /// </summary>
    public static string Describe(Exception exception) => exception switch
    {
        HttpOperationException { Response: { } response } =>
            ApiStatus.Read(response.Content)?.Message is { } message
                ? $"{(int)response.StatusCode} {response.StatusCode}: {message}"
                : $"{(int)response.StatusCode} {response.StatusCode}",
        KubernetesException { Status: { } status } => $"{status.Code} {status.Reason}: {status.Message}",
        _ => exception.Message,
    };
}
