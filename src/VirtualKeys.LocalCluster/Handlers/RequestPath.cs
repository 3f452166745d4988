namespace VirtualKeys.LocalCluster.Handlers;

/// <summary>
/// A resource URL taken apart: /api/v1/[watch/]namespaces/{ns}/{resource}[/{name}[/{subresource}]]
/// or the same under /apis/{group}/{version}.
/// </summary>
internal sealed record RequestPath(string Group, string Version, string Resource, string? Namespace, string? Name, string? Subresource, bool WatchPrefix)
{
    public static RequestPath? Parse(string[] segments)
    {
        int rest;
        string group;
        string version;
        if (segments.Length >= 3 && segments[0] == "api")
        {
            group = "";
            version = segments[1];
            rest = 2;
        }
        else if (segments.Length >= 4 && segments[0] == "apis")
        {
            group = segments[1];
            version = segments[2];
            rest = 3;
        }
        else
        {
            return null;
        }

        var tail = segments[rest..];
        var watch = false;
        if (tail.Length > 0 && tail[0] == "watch")
        {
            watch = true;
            tail = tail[1..];
        }

        if (tail.Length == 0)
        {
            return null;
        }

        string? ns = null;
        if (tail[0] == "namespaces" && tail.Length >= 3 && !(tail.Length == 3 && tail[2] is "status" or "finalize"))
        {
            ns = tail[1];
            tail = tail[2..];
        }

        return tail.Length switch
        {
            1 => new RequestPath(group, version, tail[0], ns, null, null, watch),
            2 => new RequestPath(group, version, tail[0], ns, tail[1], null, watch),
            3 => new RequestPath(group, version, tail[0], ns, tail[1], tail[2], watch),
            _ => null,
        };
    }
}
