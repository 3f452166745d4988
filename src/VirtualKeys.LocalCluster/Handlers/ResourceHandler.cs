using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using VirtualKeys.LocalCluster.Api;
using VirtualKeys.LocalCluster.Errors;
using VirtualKeys.LocalCluster.Json;
using VirtualKeys.LocalCluster.Patching;
using VirtualKeys.LocalCluster.Protobuf;
using VirtualKeys.LocalCluster.Registry;
using VirtualKeys.LocalCluster.Selectors;

namespace VirtualKeys.LocalCluster.Handlers;

/// <summary>Maps a resource URL and HTTP method to a verb and serves it: get, list, watch, create, update, patch, delete, deletecollection, and the status and scale subresources.</summary>
internal sealed class ResourceHandler
{
    private readonly ResourceOperations _operations;
    private readonly WatchHandler _watch;
    private readonly TableConverter _tables;
    private readonly FaultInjector _faults;
    private readonly ApiRequestCounts _requests;
    private readonly LocalApiServerOptions _options;

    public ResourceHandler(ResourceOperations operations, WatchHandler watch, TableConverter tables, FaultInjector faults, ApiRequestCounts requests, LocalApiServerOptions options)
    {
        _operations = operations;
        _watch = watch;
        _tables = tables;
        _faults = faults;
        _requests = requests;
        _options = options;
    }

    public async Task HandleAsync(HttpContext context, RequestPath path)
    {
        var type = _operations.Registry.Find(path.Group, path.Version, path.Resource) ?? throw ApiErrors.NoRoute();
        if (path.Namespace is not null && !type.Namespaced)
        {
            throw ApiErrors.NoRoute();
        }

        var query = context.Request.Query;
        var watch = path.WatchPrefix || query["watch"].ToString() is "true" or "1";
        var method = context.Request.Method;
        var verb = (method, path.Name is null) switch
        {
            ("GET", true) => watch ? "watch" : "list",
            ("GET", false) => watch ? "watch" : "get",
            ("POST", true) => "create",
            ("PUT", false) => "update",
            ("PATCH", false) => "patch",
            ("DELETE", false) => "delete",
            ("DELETE", true) => "deletecollection",
            _ => throw ApiErrors.MethodNotAllowed(method),
        };

        _requests.Add(verb, type.Plural, path.Subresource);
        if (path.Subresource is { } sub)
        {
            if (!(sub == "status" && type.HasStatusSubresource) && !(sub == "scale" && type.Scale is not null))
            {
                throw ApiErrors.NoRoute();
            }

            if (verb is not ("get" or "update" or "patch"))
            {
                throw ApiErrors.MethodNotAllowed(method);
            }
        }

        if (type.Namespaced && path.Namespace is null && verb is not ("list" or "watch"))
        {
            throw verb == "create" ? ApiErrors.MethodNotAllowed(method) : ApiErrors.NoRoute();
        }

        if (_faults.TakeFailure(type.Plural, verb, path.Namespace) is { } injected)
        {
            throw injected;
        }

        var ns = type.Namespaced ? path.Namespace ?? "" : "";
        var accept = AcceptHeader.Parse(context.Request.Headers.Accept.ToString());
        switch (verb)
        {
            case "get":
                await GetAsync(context, type, ns, path, accept);
                break;
            case "list":
                await ListAsync(context, type, path.Namespace, accept);
                break;
            case "watch":
                var fields = FieldSelector.Parse(query["fieldSelector"], type);
                if (path.Name is not null)
                {
                    fields = FieldSelector.Parse($"metadata.name={path.Name}" + (query["fieldSelector"].ToString() is { Length: > 0 } f ? "," + f : ""), type);
                }

                await _watch.ServeAsync(context, type, path.Namespace, LabelSelector.Parse(query["labelSelector"]), fields, accept);
                break;
            case "create":
                var (createBody, createOptions) = await ReadWriteAsync(context, type);
                await RespondAsync(context, type, accept, _operations.Create(type, ns, createBody, createOptions));
                break;
            case "update" when path.Subresource == "scale":
                var (scaleBody, scaleOptions) = await ReadWriteAsync(context, type);
                await RespondScaleAsync(context, type, UpdateScale(type, ns, path.Name!, scaleBody, scaleOptions));
                break;
            case "update":
                var (updateBody, updateOptions) = await ReadWriteAsync(context, type);
                await RespondAsync(context, type, accept, _operations.Update(type, ns, path.Name!, path.Subresource == "status", updateBody, updateOptions));
                break;
            case "patch":
                await PatchAsync(context, type, ns, path, accept);
                break;
            case "delete":
                var deleteOptions = await ReadDeleteOptionsAsync(context);
                await RespondAsync(context, type, accept, _operations.Delete(type, ns, path.Name!, deleteOptions));
                break;
            case "deletecollection":
                await DeleteCollectionAsync(context, type, ns);
                break;
        }
    }

    private async Task GetAsync(HttpContext context, ResourceType type, string ns, RequestPath path, AcceptHeader accept)
    {
        var stored = _operations.Get(type, ns, path.Name!);
        if (path.Subresource == "scale")
        {
            await HttpResponses.WriteJsonAsync(context, 200, ScaleView.Build(type, stored.ToNode()));
            return;
        }

        switch (accept.Form)
        {
            case ResponseForm.Table:
                var table = _tables.Build(type, [stored], accept.MetaVersion, context.Request.Query["includeObject"], stored.ResourceVersion, null, null);
                await HttpResponses.WriteJsonAsync(context, 200, table);
                break;
            case ResponseForm.PartialObjectMetadata:
                await HttpResponses.WriteJsonAsync(context, 200, TableConverter.PartialMetadata(stored, accept.MetaVersion));
                break;
            default:
                await HttpResponses.WriteBytesAsync(context, 200, Api.ObjectRenderer.Render(type, stored));
                break;
        }
    }

    private async Task ListAsync(HttpContext context, ResourceType type, string? ns, AcceptHeader accept)
    {
        var query = context.Request.Query;
        var limit = 0;
        if (query["limit"].ToString() is { Length: > 0 } limitText && !int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit))
        {
            throw ApiErrors.BadRequest($"invalid limit: {limitText}");
        }

        var continueToken = query["continue"].ToString() is { Length: > 0 } c ? c : null;
        var list = _operations.List(type, ns, LabelSelector.Parse(query["labelSelector"]), FieldSelector.Parse(query["fieldSelector"], type), limit, continueToken);
        switch (accept.Form)
        {
            case ResponseForm.Table:
                var table = _tables.Build(type, list.Items, accept.MetaVersion, query["includeObject"], list.ResourceVersion, list.Continue, list.RemainingItemCount);
                await HttpResponses.WriteJsonAsync(context, 200, table);
                break;
            case ResponseForm.PartialObjectMetadata:
                var items = new JsonArray(list.Items.Select(i => (JsonNode)TableConverter.PartialMetadata(i, accept.MetaVersion)).ToArray());
                var metadata = new JsonObject { ["resourceVersion"] = list.ResourceVersion.ToString(CultureInfo.InvariantCulture) };
                if (list.Continue is not null)
                {
                    metadata["continue"] = list.Continue;
                }

                await HttpResponses.WriteJsonAsync(context, 200, new JsonObject
                {
                    ["kind"] = "PartialObjectMetadataList",
                    ["apiVersion"] = "meta.k8s.io/" + accept.MetaVersion,
                    ["metadata"] = metadata,
                    ["items"] = items,
                });
                break;
            default:
                await HttpResponses.WriteListAsync(context, type, list);
                break;
        }
    }

    private async Task PatchAsync(HttpContext context, ResourceType type, string ns, RequestPath path, AcceptHeader accept)
    {
        var contentType = (context.Request.ContentType ?? "").Split(';')[0].Trim().ToLowerInvariant();
        if (contentType == "application/apply-patch+yaml")
        {
            throw ApiErrors.UnsupportedMediaType(contentType, ResourceOperations.AcceptedPatchTypes(type));
        }

        if (!ResourceOperations.AcceptedPatchTypes(type).Contains(contentType))
        {
            throw ApiErrors.UnsupportedMediaType(contentType, ResourceOperations.AcceptedPatchTypes(type));
        }

        var body = await ReadBodyAsync(context);
        var duplicates = new List<string>();
        var patch = JsonBody.Parse(body, duplicates);
        var options = ParseWriteOptions(context) with { DuplicateFields = duplicates };
        if (path.Subresource == "scale")
        {
            var current = _operations.Get(type, ns, path.Name!);
            var scale = ScaleView.Build(type, current.ToNode());
            var patched = contentType == "application/json-patch+json" ? JsonPatch.Apply(scale, patch) : JsonMergePatch.Apply(scale, patch);
            await RespondScaleAsync(context, type, UpdateScale(type, ns, path.Name!, patched as JsonObject ?? [], options));
            return;
        }

        await RespondAsync(context, type, accept, _operations.Patch(type, ns, path.Name!, path.Subresource == "status", contentType, patch, options));
    }

    private WriteResult UpdateScale(ResourceType type, string ns, string name, JsonObject scale, WriteOptions options)
    {
        var current = _operations.Get(type, ns, name);
        var node = ScaleView.Apply(type, current.ToNode(), scale);
        if (string.IsNullOrEmpty((string?)scale["metadata"]?["resourceVersion"]))
        {
            node["metadata"]!["resourceVersion"] = current.ResourceVersion.ToString(CultureInfo.InvariantCulture);
        }

        return _operations.Update(type, ns, name, statusEndpoint: false, Api.ObjectRenderer.ToServed(type, node), options);
    }

    private async Task RespondScaleAsync(HttpContext context, ResourceType type, WriteResult result)
    {
        HttpResponses.AddWarnings(context, result.Warnings);
        await HttpResponses.WriteJsonAsync(context, 200, ScaleView.Build(type, result.Object));
    }

    private async Task DeleteCollectionAsync(HttpContext context, ResourceType type, string ns)
    {
        var options = await ReadDeleteOptionsAsync(context);
        var query = context.Request.Query;
        var list = _operations.List(type, ns, LabelSelector.Parse(query["labelSelector"]), FieldSelector.Parse(query["fieldSelector"], type), 0, null);
        var deleted = new JsonArray();
        foreach (var item in list.Items)
        {
            try
            {
                deleted.Add(Api.ObjectRenderer.ToServed(type, _operations.Delete(type, item.Namespace, item.Name, options).Object));
            }
            catch (ApiException e) when (e.Code == 404)
            {
            }
        }

        await HttpResponses.WriteJsonAsync(context, 200, new JsonObject
        {
            ["kind"] = type.ListKind,
            ["apiVersion"] = type.ApiVersion,
            ["metadata"] = new JsonObject { ["resourceVersion"] = _operations.Store.CurrentRevision.ToString(CultureInfo.InvariantCulture) },
            ["items"] = deleted,
        });
    }

    private async Task RespondAsync(HttpContext context, ResourceType type, AcceptHeader accept, WriteResult result)
    {
        HttpResponses.AddWarnings(context, result.Warnings);
        var served = Api.ObjectRenderer.ToServed(type, result.Object);
        await HttpResponses.WriteJsonAsync(context, result.StatusCode, served);
    }

    private async Task<(JsonObject Body, WriteOptions Options)> ReadWriteAsync(HttpContext context, ResourceType type)
    {
        var contentType = (context.Request.ContentType ?? "application/json").Split(';')[0].Trim().ToLowerInvariant();
        var protobuf = contentType == ProtobufEnvelope.MediaType && ProtobufBody.Supports(type.Group, type.Kind);
        if (contentType is not ("application/json" or "*/*" or "") && !protobuf)
        {
            throw ApiErrors.UnsupportedMediaType(
                contentType,
                ProtobufBody.Supports(type.Group, type.Kind) ? ["application/json", ProtobufEnvelope.MediaType] : ["application/json"]);
        }

        var body = await ReadBodyAsync(context);
        if (protobuf)
        {
            // Protobuf carries no duplicate or unknown fields to warn about.
            return (ProtobufBody.Read(body, type.Kind), ParseWriteOptions(context));
        }

        var duplicates = new List<string>();
        var node = JsonBody.Parse(body, duplicates);
        if (node is not JsonObject obj)
        {
            throw ApiErrors.BadRequest($"couldn't get version/kind; json parse error: the body must be a JSON object");
        }

        return (obj, ParseWriteOptions(context) with { DuplicateFields = duplicates });
    }

    private async Task<DeleteOptions> ReadDeleteOptionsAsync(HttpContext context)
    {
        var query = context.Request.Query;
        string? policy = query["propagationPolicy"].ToString() is { Length: > 0 } p ? p : null;
        var dryRun = ParseDryRun(query["dryRun"]);
        bool? orphan = query["orphanDependents"].ToString() is { Length: > 0 } o ? o == "true" : null;
        string? uid = null;
        string? rv = null;
        var body = await ReadBodyAsync(context);
        if (body.Length > 0)
        {
            if (JsonBody.Parse(body, []) is JsonObject options)
            {
                policy = (string?)options["propagationPolicy"] ?? policy;
                uid = (string?)options["preconditions"]?["uid"];
                rv = (string?)options["preconditions"]?["resourceVersion"];
                dryRun |= options["dryRun"] is JsonArray d && d.Any(v => v?.ToString() == "All");
                if (options["orphanDependents"] is JsonValue orphanValue)
                {
                    orphan = orphanValue.GetValueKind() == JsonValueKind.True;
                }
            }
        }

        return new DeleteOptions(policy, uid, rv, dryRun, orphan);
    }

    private async Task<byte[]> ReadBodyAsync(HttpContext context)
    {
        var limit = _options.MaxRequestBodyBytes;
        if (context.Request.ContentLength > limit)
        {
            throw ApiErrors.TooLarge(limit);
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                throw ApiErrors.TooLarge(limit);
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static WriteOptions ParseWriteOptions(HttpContext context)
    {
        var query = context.Request.Query;
        var validation = query["fieldValidation"].ToString() switch
        {
            "" or "Warn" => FieldValidationMode.Warn,
            "Strict" => FieldValidationMode.Strict,
            "Ignore" => FieldValidationMode.Ignore,
            var other => throw ApiErrors.BadRequest($"fieldValidation parameter unsupported: {other}; must be one of \"Ignore\", \"Warn\", or \"Strict\""),
        };
        return new WriteOptions(ParseDryRun(query["dryRun"]), validation);
    }

    private static bool ParseDryRun(Microsoft.Extensions.Primitives.StringValues values)
    {
        foreach (var value in values)
        {
            if (value != "All")
            {
                throw ApiErrors.BadRequest($"Invalid dryRun value: {value}: supported values: \"All\"");
            }
        }

        return values.Count > 0;
    }
}
