using VirtualKeys.LocalCluster.Errors;

namespace VirtualKeys.LocalCluster.Handlers;

/// <summary>What form of answer a client asked for: plain JSON, a meta.k8s.io Table, or partial metadata.</summary>
internal sealed record AcceptHeader(ResponseForm Form, string MetaVersion)
{
    public static AcceptHeader Parse(string? accept)
    {
        if (string.IsNullOrWhiteSpace(accept))
        {
            return new AcceptHeader(ResponseForm.Json, "v1");
        }

        foreach (var entry in accept.Split(','))
        {
            var parts = entry.Split(';').Select(p => p.Trim()).ToArray();
            var mediaType = parts[0].ToLowerInvariant();
            var parameters = parts.Skip(1)
                .Select(p => p.Split('=', 2))
                .Where(p => p.Length == 2)
                .ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.Ordinal);
            if (mediaType is not ("application/json" or "application/*" or "*/*" or "application/json;stream=watch"))
            {
                continue;
            }

            if (!parameters.TryGetValue("as", out var asKind))
            {
                return new AcceptHeader(ResponseForm.Json, "v1");
            }

            var version = parameters.GetValueOrDefault("v", "v1");
            if (parameters.GetValueOrDefault("g") != "meta.k8s.io" || version is not ("v1" or "v1beta1"))
            {
                continue;
            }

            switch (asKind)
            {
                case "Table":
                    return new AcceptHeader(ResponseForm.Table, version);
                case "PartialObjectMetadata" or "PartialObjectMetadataList":
                    return new AcceptHeader(ResponseForm.PartialObjectMetadata, version);
            }
        }

        throw ApiErrors.NotAcceptable(["application/json", "application/json;as=Table;v=v1;g=meta.k8s.io", "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"]);
    }
}
