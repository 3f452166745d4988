using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VirtualKeys.LocalCluster.Errors;
using VirtualKeys.LocalCluster.Registry;

namespace VirtualKeys.LocalCluster.Api;

/// <summary>
/// Per-kind rules of the built-in registry strategies (what PrepareForCreate, PrepareForUpdate
/// and Validate do on a real server) for the kinds served here.
/// </summary>
internal static partial class BuiltInStrategies
{
    private const int SecretSizeLimit = 1024 * 1024;
    private const string KeyMessage = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

    public static void PrepareForCreate(ResourceType type, JsonObject obj, string now)
    {
        switch (type.Strategy)
        {
            case ResourceStrategy.Namespace:
                obj["spec"] = new JsonObject { ["finalizers"] = new JsonArray("kubernetes") };
                obj["status"] = new JsonObject { ["phase"] = "Active" };
                break;
            case ResourceStrategy.Secret:
                MergeStringData(obj);
                obj["type"] ??= "Opaque";
                break;
            case ResourceStrategy.CustomResourceDefinition:
                CrdRegistration.ApplyDefaults(obj);
                obj.Remove("status");
                break;
            case ResourceStrategy.Custom when type.HasStatusSubresource:
                obj.Remove("status");
                break;
        }
    }

    /// <summary>Keeps what an endpoint may not change: status on the main endpoint, all but status on /status.</summary>
    public static void PrepareForUpdate(ResourceType type, JsonObject obj, JsonObject old, bool statusEndpoint)
    {
        if (statusEndpoint)
        {
            var status = obj["status"]?.DeepClone();
            foreach (var key in obj.Select(p => p.Key).ToList())
            {
                obj.Remove(key);
            }

            foreach (var (key, value) in old)
            {
                if (key != "status")
                {
                    obj[key] = value?.DeepClone();
                }
            }

            if (status is not null)
            {
                obj["status"] = status;
            }

            return;
        }

        if (type.HasStatusSubresource)
        {
            obj.Remove("status");
            if (old["status"] is { } oldStatus)
            {
                obj["status"] = oldStatus.DeepClone();
            }
        }

        switch (type.Strategy)
        {
            case ResourceStrategy.Namespace:
                obj["spec"] = old["spec"]?.DeepClone();
                break;
            case ResourceStrategy.Secret:
                MergeStringData(obj);
                obj["type"] ??= "Opaque";
                break;
            case ResourceStrategy.CustomResourceDefinition:
                CrdRegistration.ApplyDefaults(obj);
                break;
        }
    }

    public static List<FieldError> Validate(ResourceType type, JsonObject obj, JsonObject? old)
    {
        var errors = new List<FieldError>();
        switch (type.Strategy)
        {
            case ResourceStrategy.Secret:
                ValidateData(obj, "data", errors, decode: true);
                if (old is not null)
                {
                    if ((string?)old["type"] != (string?)obj["type"])
                    {
                        errors.Add(FieldError.Invalid("type", obj["type"], "field is immutable"));
                    }

                    CheckImmutable(obj, old, ["data"], errors);
                }

                break;
            case ResourceStrategy.ConfigMap:
                ValidateData(obj, "data", errors, decode: false);
                ValidateData(obj, "binaryData", errors, decode: true);
                if (old is not null)
                {
                    CheckImmutable(obj, old, ["data", "binaryData"], errors);
                }

                break;
            case ResourceStrategy.Lease:
                if (obj["spec"]?["leaseDurationSeconds"] is JsonValue duration && duration.GetValue<long>() <= 0)
                {
                    errors.Add(FieldError.Invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"));
                }

                if (obj["spec"]?["leaseTransitions"] is JsonValue transitions && transitions.GetValue<long>() < 0)
                {
                    errors.Add(FieldError.Invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"));
                }

                break;
            case ResourceStrategy.Event:
                ValidateEvent(type, obj, errors);
                break;
            case ResourceStrategy.CustomResourceDefinition:
                errors.AddRange(CrdRegistration.Validate(obj));
                if (old is not null && (string?)old["spec"]?["scope"] != (string?)obj["spec"]?["scope"])
                {
                    errors.Add(FieldError.Invalid("spec.scope", obj["spec"]?["scope"], "field is immutable"));
                }

                if (old is not null && (string?)old["spec"]?["group"] != (string?)obj["spec"]?["group"])
                {
                    errors.Add(FieldError.Invalid("spec.group", obj["spec"]?["group"], "field is immutable"));
                }

                break;
        }

        return errors;
    }

    private static void ValidateEvent(ResourceType type, JsonObject obj, List<FieldError> errors)
    {
        var ns = (string?)obj["metadata"]?["namespace"] ?? "";
        var involvedNs = (string?)obj["involvedObject"]?["namespace"];
        if (!string.IsNullOrEmpty(involvedNs) && involvedNs != ns)
        {
            errors.Add(FieldError.Invalid(type.Group.Length == 0 ? "involvedObject.namespace" : "regarding.namespace", obj["involvedObject"]?["namespace"], "does not match event.namespace"));
        }

        if (type.Group.Length == 0)
        {
            return;
        }

        // events.k8s.io/v1 is strict about the fields a modern recorder fills in.
        if (obj["eventTime"] is not JsonValue)
        {
            errors.Add(FieldError.Required("eventTime"));
        }

        foreach (var (field, served) in new[] { ("reportingComponent", "reportingController"), ("reportingInstance", "reportingInstance"), ("action", "action"), ("reason", "reason") })
        {
            if (string.IsNullOrEmpty((string?)obj[field]))
            {
                errors.Add(FieldError.Required(served));
            }
        }

        if ((string?)obj["type"] is not ("Normal" or "Warning"))
        {
            errors.Add(FieldError.Invalid("type", obj["type"], "has invalid value, must be one of Normal, Warning"));
        }
    }

    private static void CheckImmutable(JsonObject obj, JsonObject old, string[] fields, List<FieldError> errors)
    {
        if (old["immutable"] is not JsonValue immutable || immutable.GetValueKind() != JsonValueKind.True)
        {
            return;
        }

        if (obj["immutable"] is not JsonValue stillImmutable || stillImmutable.GetValueKind() != JsonValueKind.True)
        {
            errors.Add(FieldError.Forbidden("immutable", "field is immutable when `immutable` is set"));
        }

        foreach (var field in fields)
        {
            if (!JsonNode.DeepEquals(obj[field], old[field]))
            {
                errors.Add(FieldError.Forbidden(field, "field is immutable when `immutable` is set"));
            }
        }
    }

    private static void ValidateData(JsonObject obj, string field, List<FieldError> errors, bool decode)
    {
        if (obj[field] is not JsonObject data)
        {
            return;
        }

        long total = 0;
        foreach (var (key, value) in data)
        {
            if (key.Length > 253 || !ConfigKey().IsMatch(key) || key is "." or "..")
            {
                errors.Add(FieldError.Invalid($"{field}[{key}]", JsonValue.Create(key), KeyMessage));
            }

            var text = value?.ToString() ?? "";
            if (decode)
            {
                var buffer = new byte[(text.Length * 3 / 4) + 3];
                if (!Convert.TryFromBase64String(text, buffer, out var written))
                {
                    throw ApiErrors.BadRequest($"{(string?)obj["kind"] ?? "object"} in version \"v1\" cannot be handled as a {(string?)obj["kind"]}: illegal base64 data at input byte 0");
                }

                total += written;
            }
            else
            {
                total += Encoding.UTF8.GetByteCount(text);
            }
        }

        if (total > SecretSizeLimit)
        {
            errors.Add(FieldError.TooLong(field, SecretSizeLimit));
        }
    }

    /// <summary>stringData is write-only: merged into data (base64) and never stored.</summary>
    private static void MergeStringData(JsonObject obj)
    {
        if (obj["stringData"] is JsonObject stringData)
        {
            var data = obj["data"] as JsonObject ?? [];
            foreach (var (key, value) in stringData)
            {
                data[key] = Convert.ToBase64String(Encoding.UTF8.GetBytes(value?.ToString() ?? ""));
            }

            if (data.Parent is null)
            {
                obj["data"] = data;
            }
        }

        obj.Remove("stringData");
    }

    [GeneratedRegex("^[-._a-zA-Z0-9]+$")]
    private static partial Regex ConfigKey();
}
