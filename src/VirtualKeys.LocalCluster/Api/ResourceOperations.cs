using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualKeys.LocalCluster.Errors;
using VirtualKeys.LocalCluster.Patching;
using VirtualKeys.LocalCluster.Registry;
using VirtualKeys.LocalCluster.Selectors;
using VirtualKeys.LocalCluster.Storage;
using VirtualKeys.LocalCluster.Validation;

namespace VirtualKeys.LocalCluster.Api;

/// <summary>
/// The registry layer of the API server: create, update, patch, delete and list with the
/// semantics of k8s.io/apiserver's generic store (metadata ownership, resourceVersion
/// preconditions, generation, finalizers, status subresource). HTTP and the garbage collector
/// both call it.
/// </summary>
internal sealed class ResourceOperations
{
    public const string CrdCleanupFinalizer = "customresourcecleanup.apiextensions.k8s.io";
    private const int MaxAttempts = 32;
    private const string GeneratedNameAlphabet = "bcdfghjklmnpqrstvwxz2456789";
    private static readonly string[] ImmortalNamespaces = ["default", "kube-system", "kube-public"];
    private static readonly string[] SystemManagedMetadata = ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "selfLink"];
    private static readonly JsonElement ObjectMetaSchema = JsonSerializer.Deserialize<JsonElement>(BuiltInSchemas.ObjectMetaJson);

    private readonly ObjectStore _store;
    private readonly ResourceRegistry _registry;
    private readonly TimeProvider _time;

    public ResourceOperations(ObjectStore store, ResourceRegistry registry, TimeProvider time)
    {
        _store = store;
        _registry = registry;
        _time = time;
    }

    public ObjectStore Store => _store;

    public ResourceRegistry Registry => _registry;

    public string Now() => _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public StoredObject Get(ResourceType type, string ns, string name) =>
        _store.Get(type.StorageKey, type.Namespaced ? ns : "", name) ?? throw ApiErrors.NotFound(type, name);

    public ListResult List(ResourceType type, string? ns, LabelSelector labels, FieldSelector fields, int limit, string? continueToken)
    {
        var startAfter = continueToken is null ? null : DecodeContinue(continueToken);
        var (all, revision) = _store.List(type.StorageKey, type.Namespaced ? ns : null, startAfter);
        var filtered = labels.IsEmpty && fields.IsEmpty
            ? all
            : all.Where(o => labels.Matches(o.Labels) && fields.Matches(o)).ToList();
        if (limit <= 0 || filtered.Count <= limit)
        {
            return new ListResult(filtered, revision, null, null);
        }

        var page = filtered.GetRange(0, limit);
        var token = EncodeContinue(revision, page[^1].Key);
        long? remaining = labels.IsEmpty && fields.IsEmpty ? filtered.Count - limit : null;
        return new ListResult(page, revision, token, remaining);
    }

    public WriteResult Create(ResourceType type, string ns, JsonObject body, WriteOptions options)
    {
        var warnings = new List<string>();
        var obj = Decode(type, body, options, warnings);
        var metadata = Metadata(obj);
        if (type.Namespaced)
        {
            var bodyNamespace = (string?)metadata["namespace"];
            if (!string.IsNullOrEmpty(bodyNamespace) && bodyNamespace != ns)
            {
                throw ApiErrors.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
            }

            metadata["namespace"] = ns;
        }
        else
        {
            metadata.Remove("namespace");
        }

        var name = (string?)metadata["name"] ?? "";
        var generateName = (string?)metadata["generateName"] ?? "";
        if (name.Length == 0 && generateName.Length == 0)
        {
            throw ApiErrors.Invalid(type, "", [FieldError.Required("metadata.name", "name or generateName is required")]);
        }

        if (type.Namespaced)
        {
            CheckNamespaceAccepts(type, ns, name.Length > 0 ? name : generateName);
        }

        if (type.CrdName is { } crdName && _store.Get("apiextensions.k8s.io/customresourcedefinitions", "", crdName) is { IsDeleting: true })
        {
            throw new ApiException(405, "MethodNotAllowed", $"create not allowed while custom resource definition is terminating");
        }

        foreach (var field in SystemManagedMetadata.Append("resourceVersion").Append("managedFields"))
        {
            metadata.Remove(field);
        }

        metadata["uid"] = Guid.NewGuid().ToString();
        metadata["creationTimestamp"] = Now();
        if (type.TracksGeneration)
        {
            metadata["generation"] = 1;
        }

        BuiltInStrategies.PrepareForCreate(type, obj, Now());
        if (name.Length == 0)
        {
            metadata["name"] = generateName + RandomSuffix();
        }

        var errors = ValidateObject(type, obj, null);
        if (errors.Count > 0)
        {
            throw ApiErrors.Invalid(type, name.Length > 0 ? name : generateName, errors);
        }

        if (type.Strategy == ResourceStrategy.CustomResourceDefinition)
        {
            obj["status"] = CrdRegistration.BuildStatus(obj, Now());
        }

        if (options.DryRun)
        {
            return new WriteResult(obj, 201, warnings);
        }

        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            if (_store.TryCreate(type.StorageKey, obj, out _))
            {
                return new WriteResult(obj, 201, warnings);
            }

            if (name.Length > 0)
            {
                throw ApiErrors.AlreadyExists(type, name);
            }

            metadata["name"] = generateName + RandomSuffix();
        }

        throw ApiErrors.AlreadyExists(type, (string?)metadata["name"] ?? generateName);
    }

    public WriteResult Update(ResourceType type, string ns, string name, bool statusEndpoint, JsonObject body, WriteOptions options)
    {
        var warnings = new List<string>();
        var obj = Decode(type, body, options, warnings);
        CheckNameAndNamespace(type, ns, name, Metadata(obj));
        var requested = (string?)obj["metadata"]?["resourceVersion"];
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var current = _store.Get(type.StorageKey, type.Namespaced ? ns : "", name);
            if (current is null)
            {
                if (type.AllowCreateOnUpdate && !statusEndpoint)
                {
                    return Create(type, ns, body, options);
                }

                throw ApiErrors.NotFound(type, name);
            }

            if (!string.IsNullOrEmpty(requested))
            {
                if (requested != Rv(current))
                {
                    throw ApiErrors.StaleResourceVersion(type, name);
                }
            }
            else if (!type.AllowUnconditionalUpdate)
            {
                throw ApiErrors.Invalid(type, name, [new FieldError("FieldValueInvalid", "metadata.resourceVersion", "Invalid value: 0x0: must be specified for an update")]);
            }

            var result = TryApplyUpdate(type, current, (JsonObject)obj.DeepClone(), statusEndpoint, options, warnings);
            if (result is not null)
            {
                return result;
            }
        }

        throw ApiErrors.StaleResourceVersion(type, name);
    }

    public WriteResult Patch(ResourceType type, string ns, string name, bool statusEndpoint, string patchType, JsonNode? patch, WriteOptions options)
    {
        var warnings = new List<string>();
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var current = Get(type, ns, name);
            var served = ObjectRenderer.ToServed(type, current.ToNode());
            JsonNode? patched = patchType switch
            {
                "application/merge-patch+json" => JsonMergePatch.Apply(served, patch),
                "application/json-patch+json" => JsonPatch.Apply(served, patch),
                "application/strategic-merge-patch+json" when patch is JsonObject patchObject => StrategicMergePatch.Apply(served, patchObject),
                "application/strategic-merge-patch+json" => throw ApiErrors.BadRequest("strategic merge patch must be a JSON object"),
                _ => throw ApiErrors.UnsupportedMediaType(patchType, AcceptedPatchTypes(type)),
            };
            if (patched is not JsonObject patchedObject)
            {
                throw ApiErrors.BadRequest("the patch must produce a JSON object");
            }

            var metadata = patchedObject["metadata"] as JsonObject;
            var patchedRv = (string?)metadata?["resourceVersion"];
            if (!string.IsNullOrEmpty(patchedRv) && patchedRv != Rv(current))
            {
                throw ApiErrors.StaleResourceVersion(type, name);
            }

            var obj = Decode(type, patchedObject, options, warnings);
            CheckNameAndNamespace(type, ns, name, Metadata(obj));
            var result = TryApplyUpdate(type, current, obj, statusEndpoint, options, warnings);
            if (result is not null)
            {
                return result;
            }
        }

        throw ApiErrors.StaleResourceVersion(type, name);
    }

    public WriteResult Delete(ResourceType type, string ns, string name, DeleteOptions options)
    {
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var current = Get(type, ns, name);
            if (options.PreconditionUid is { Length: > 0 } uid && uid != current.Uid)
            {
                throw ApiErrors.Conflict(type, name, $"Precondition failed: UID in precondition: {uid}, UID in object meta: {current.Uid}");
            }

            if (options.PreconditionResourceVersion is { Length: > 0 } rv && rv != Rv(current))
            {
                throw ApiErrors.Conflict(type, name, $"Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {Rv(current)}");
            }

            var policy = options.PropagationPolicy
                ?? (options.OrphanDependents == true ? "Orphan" : "Background");
            if (policy is not ("Orphan" or "Background" or "Foreground"))
            {
                throw ApiErrors.BadRequest($"DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{policy}\": supported values: \"Foreground\", \"Background\", \"Orphan\"");
            }

            var node = current.ToNode();
            if (options.DryRun)
            {
                return new WriteResult(node, 200, []);
            }

            var metadata = Metadata(node);
            if (type.Strategy == ResourceStrategy.Namespace)
            {
                if (ImmortalNamespaces.Contains(name))
                {
                    throw ApiErrors.Forbidden(type, name, "this namespace may not be deleted");
                }

                if (current.IsDeleting)
                {
                    return new WriteResult(node, 200, []);
                }

                metadata["deletionTimestamp"] = Now();
                metadata["deletionGracePeriodSeconds"] = 0;
                node["status"] = new JsonObject { ["phase"] = "Terminating" };
                if (_store.TryReplace(current, node, out _))
                {
                    return new WriteResult(node, 200, []);
                }

                continue;
            }

            var finalizers = current.Finalizers.ToList();
            if (type.Strategy == ResourceStrategy.CustomResourceDefinition && !finalizers.Contains(CrdCleanupFinalizer))
            {
                finalizers.Add(CrdCleanupFinalizer);
            }

            if (policy == "Foreground" && !finalizers.Contains("foregroundDeletion"))
            {
                finalizers.Add("foregroundDeletion");
            }
            else if (policy == "Orphan" && !finalizers.Contains("orphan"))
            {
                finalizers.Add("orphan");
            }

            if (finalizers.Count == 0)
            {
                if (_store.TryRemove(current, node, out _))
                {
                    return new WriteResult(node, 200, []);
                }

                continue;
            }

            if (current.IsDeleting && finalizers.SequenceEqual(current.Finalizers))
            {
                return new WriteResult(node, 200, []);
            }

            metadata["finalizers"] = new JsonArray(finalizers.Select(f => (JsonNode)f).ToArray());
            if (!current.IsDeleting)
            {
                metadata["deletionTimestamp"] = Now();
                metadata["deletionGracePeriodSeconds"] = 0;
                if (type.TracksGeneration)
                {
                    metadata["generation"] = ((long?)metadata["generation"] ?? 0) + 1;
                }
            }

            if (_store.TryReplace(current, node, out _))
            {
                return new WriteResult(node, 200, []);
            }
        }

        throw ApiErrors.StaleResourceVersion(type, name);
    }

    /// <summary>Used by the garbage collector and controllers: a read-modify-write that retries on races.</summary>
    public bool TryMutate(StoredObject current, Func<JsonObject, bool> mutate)
    {
        var type = _registry.ForStorage(current.StorageKey);
        if (type is null)
        {
            return false;
        }

        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var node = current.ToNode();
            if (!mutate(node))
            {
                return false;
            }

            var warnings = new List<string>();
            if (TryApplyUpdate(type, current, node, statusEndpoint: false, WriteOptions.Internal, warnings) is not null)
            {
                return true;
            }

            var latest = _store.Get(current.StorageKey, current.Namespace, current.Name);
            if (latest is null || latest.Uid != current.Uid)
            {
                return false;
            }

            current = latest;
        }

        return false;
    }

    /// <summary>Removes an object outright (the namespace controller's last step).</summary>
    public bool Remove(StoredObject current) => _store.TryRemove(current, current.ToNode(), out _);

    public static IReadOnlyList<string> AcceptedPatchTypes(ResourceType type) =>
        type.IsCustom
            ? ["application/json-patch+json", "application/merge-patch+json"]
            : ["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"];

    private WriteResult? TryApplyUpdate(ResourceType type, StoredObject current, JsonObject candidate, bool statusEndpoint, WriteOptions options, List<string> warnings)
    {
        var old = current.ToNode();
        BuiltInStrategies.PrepareForUpdate(type, candidate, old, statusEndpoint);
        var metadata = Metadata(candidate);
        var oldMetadata = Metadata(old);
        foreach (var field in SystemManagedMetadata)
        {
            metadata.Remove(field);
            if (oldMetadata[field] is { } value)
            {
                metadata[field] = value.DeepClone();
            }
        }

        metadata["name"] = current.Name;
        if (type.Namespaced)
        {
            metadata["namespace"] = current.Namespace;
        }

        metadata.Remove("managedFields");
        metadata["resourceVersion"] = Rv(current);

        if (current.IsDeleting)
        {
            var added = Strings(metadata["finalizers"]).Except(current.Finalizers).ToList();
            if (added.Count > 0)
            {
                throw ApiErrors.Invalid(type, current.Name, [FieldError.Forbidden("metadata.finalizers", $"no new finalizers can be added if the object is being deleted, found new finalizers []string{{{string.Join(", ", added.Select(a => $"\"{a}\""))}}}")]);
            }
        }

        if (type.TracksGeneration && SpecChanged(old, candidate, type.HasStatusSubresource))
        {
            metadata["generation"] = ((long?)oldMetadata["generation"] ?? 0) + 1;
        }

        var errors = ValidateObject(type, candidate, old);
        if (errors.Count > 0)
        {
            throw ApiErrors.Invalid(type, current.Name, errors);
        }

        if (JsonNode.DeepEquals(candidate, old))
        {
            return new WriteResult(old, 200, warnings);
        }

        if (type.Strategy == ResourceStrategy.CustomResourceDefinition)
        {
            candidate["status"] = CrdRegistration.BuildStatus(candidate, Now());
        }

        if (options.DryRun)
        {
            return new WriteResult(candidate, 200, warnings);
        }

        var drained = current.IsDeleting && Strings(metadata["finalizers"]).Count == 0
            && (type.Strategy != ResourceStrategy.Namespace || Strings(candidate["spec"]?["finalizers"]).Count == 0);
        if (drained)
        {
            return _store.TryRemove(current, candidate, out _) ? new WriteResult(candidate, 200, warnings) : null;
        }

        return _store.TryReplace(current, candidate, out _) ? new WriteResult(candidate, 200, warnings) : null;
    }

    private List<FieldError> ValidateObject(ResourceType type, JsonObject obj, JsonObject? old)
    {
        var errors = new List<FieldError>();
        ObjectMetaValidator.Validate(Metadata(obj), type.Strategy == ResourceStrategy.Namespace, errors);
        errors.AddRange(BuiltInStrategies.Validate(type, obj, old));
        if (type.IsCustom && type.Schema is { } schema)
        {
            errors.AddRange(SchemaValidator.Validate(obj, schema));
        }

        return errors;
    }

    /// <summary>
    /// The decoding step of a write: type meta checks, metadata types, pruning of unknown
    /// fields (with fieldValidation), schema defaults, and conversion to the storage form.
    /// </summary>
    private static JsonObject Decode(ResourceType type, JsonObject body, WriteOptions options, List<string> warnings)
    {
        body = (JsonObject)body.DeepClone();
        CheckTypeMeta(type, body);
        var cannotHandle = $"{type.Kind} in version \"{type.Version}\" cannot be handled as a {type.Kind}";
        if (body["metadata"] is { } metadataNode && metadataNode is not JsonObject)
        {
            throw ApiErrors.BadRequest($"{cannotHandle}: json: cannot unmarshal {metadataNode.GetValueKind().ToString().ToLowerInvariant()} into Go struct field .metadata of type v1.ObjectMeta");
        }

        if (body["metadata"] is JsonObject metadata)
        {
            var metaErrors = SchemaValidator.Validate(metadata, ObjectMetaSchema);
            if (metaErrors.Count > 0)
            {
                throw ApiErrors.BadRequest($"{cannotHandle}: metadata.{metaErrors[0]}");
            }
        }

        var unknown = new List<string>();
        if (type.Schema is { } schema)
        {
            SchemaPruner.Prune(body, schema, ObjectMetaSchema, unknown);
        }

        var problems = unknown.Select(u => $"unknown field \"{u}\"")
            .Concat(options.DuplicateFields.Select(d => $"duplicate field \"{d}\""))
            .ToList();
        if (problems.Count > 0)
        {
            switch (options.FieldValidation)
            {
                case FieldValidationMode.Strict:
                    throw ApiErrors.BadRequest($"{cannotHandle}: strict decoding error: {string.Join(", ", problems)}");
                case FieldValidationMode.Warn:
                    warnings.AddRange(problems);
                    break;
            }
        }

        if (type.Schema is { } typeSchema)
        {
            if (!type.IsCustom)
            {
                var typeErrors = SchemaValidator.Validate(body, typeSchema);
                if (typeErrors.Count > 0)
                {
                    throw ApiErrors.BadRequest($"{cannotHandle}: {typeErrors[0]}");
                }
            }
            else
            {
                SchemaDefaulter.Apply(body, typeSchema);
            }
        }

        if (type.Converter is { } converter)
        {
            return converter.ToStorage(body);
        }

        body["apiVersion"] = type.StorageApiVersion;
        return body;
    }

    private static void CheckTypeMeta(ResourceType type, JsonObject body)
    {
        var apiVersion = body["apiVersion"] is JsonValue av && av.GetValueKind() == JsonValueKind.String ? av.GetValue<string>() : null;
        var kind = body["kind"] is JsonValue k && k.GetValueKind() == JsonValueKind.String ? k.GetValue<string>() : null;
        if (string.IsNullOrEmpty(kind))
        {
            if (type.IsCustom)
            {
                throw ApiErrors.BadRequest($"Object 'Kind' is missing in '{Truncate(body.ToJsonString())}'");
            }

            body["kind"] = kind = type.Kind;
        }

        if (string.IsNullOrEmpty(apiVersion))
        {
            if (type.IsCustom)
            {
                throw ApiErrors.BadRequest($"Object 'apiVersion' is missing in '{Truncate(body.ToJsonString())}'");
            }

            body["apiVersion"] = apiVersion = type.ApiVersion;
        }

        if (apiVersion != type.ApiVersion)
        {
            throw ApiErrors.BadRequest($"the API version in the data ({apiVersion}) does not match the expected API version ({type.ApiVersion})");
        }

        if (kind != type.Kind)
        {
            throw ApiErrors.BadRequest($"the kind in the data ({kind}) does not match the expected kind ({type.Kind}) for {type.GroupResource}");
        }
    }

    private static void CheckNameAndNamespace(ResourceType type, string ns, string name, JsonObject metadata)
    {
        var bodyName = (string?)metadata["name"] ?? "";
        if (bodyName.Length == 0)
        {
            metadata["name"] = name;
        }
        else if (bodyName != name)
        {
            throw ApiErrors.BadRequest($"the name of the object ({bodyName}) does not match the name on the URL ({name})");
        }

        if (type.Namespaced)
        {
            var bodyNamespace = (string?)metadata["namespace"] ?? "";
            if (bodyNamespace.Length > 0 && bodyNamespace != ns)
            {
                throw ApiErrors.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
            }

            metadata["namespace"] = ns;
        }
        else
        {
            metadata.Remove("namespace");
        }
    }

    private void CheckNamespaceAccepts(ResourceType type, string ns, string name)
    {
        var nsObject = _store.Get("/namespaces", "", ns) ?? throw ApiErrors.NotFound("namespaces", ns);
        if (nsObject.IsDeleting)
        {
            var error = ApiErrors.Forbidden(type, name, $"unable to create new content in namespace {ns} because it is being terminated");
            error.Details!["causes"] = new JsonArray(new JsonObject
            {
                ["reason"] = "NamespaceTerminating",
                ["message"] = $"namespace {ns} is being terminated",
                ["field"] = "metadata.namespace",
            });
            throw error;
        }
    }

    private static bool SpecChanged(JsonObject old, JsonObject candidate, bool ignoreStatus)
    {
        var a = (JsonObject)old.DeepClone();
        var b = (JsonObject)candidate.DeepClone();
        foreach (var copy in new[] { a, b })
        {
            copy.Remove("metadata");
            if (ignoreStatus)
            {
                copy.Remove("status");
            }
        }

        return !JsonNode.DeepEquals(a, b);
    }

    private static JsonObject Metadata(JsonObject obj)
    {
        if (obj["metadata"] is JsonObject metadata)
        {
            return metadata;
        }

        metadata = [];
        obj["metadata"] = metadata;
        return metadata;
    }

    private static List<string> Strings(JsonNode? node) =>
        node is JsonArray array ? array.Select(v => v?.ToString() ?? "").ToList() : [];

    private static string Rv(StoredObject stored) => stored.ResourceVersion.ToString(CultureInfo.InvariantCulture);

    private static string RandomSuffix()
    {
        Span<char> chars = stackalloc char[5];
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = GeneratedNameAlphabet[RandomNumberGenerator.GetInt32(GeneratedNameAlphabet.Length)];
        }

        return new string(chars);
    }

    private static string Truncate(string json) => json.Length > 200 ? json[..200] + "..." : json;

    private static string EncodeContinue(long revision, string key)
    {
        var json = JsonSerializer.Serialize(new Dictionary<string, object> { ["v"] = "meta.k8s.io/v1", ["rv"] = revision, ["start"] = key });
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(json));
    }

    private static string DecodeContinue(string token)
    {
        try
        {
            var json = Encoding.UTF8.GetString(Convert.FromBase64String(token));
            using var document = JsonDocument.Parse(json);
            return document.RootElement.GetProperty("start").GetString() ?? throw new FormatException();
        }
        catch (Exception e) when (e is FormatException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw ApiErrors.BadRequest($"continue key is not valid: {e.Message}");
        }
    }
}
