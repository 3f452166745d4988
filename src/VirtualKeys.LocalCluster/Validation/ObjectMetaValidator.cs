using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VirtualKeys.LocalCluster.Errors;

namespace VirtualKeys.LocalCluster.Validation;

/// <summary>The ObjectMeta rules of apimachinery's validation: names, labels, annotations, finalizers, owners.</summary>
internal static partial class ObjectMetaValidator
{
    private const string SubdomainMessage = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    private const string LabelMessage = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    private const string QualifiedNameMessage = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    private const string LabelValueMessage = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    private const int TotalAnnotationSizeLimit = 256 * 1024;

    public static void Validate(JsonObject metadata, bool nameIsLabel, List<FieldError> errors)
    {
        var name = (string?)metadata["name"] ?? "";
        ValidateName(name, nameIsLabel, "metadata.name", errors);
        if (metadata["namespace"] is JsonValue ns && ns.ToString() is { Length: > 0 } nsName && !IsDnsLabel(nsName))
        {
            errors.Add(FieldError.Invalid("metadata.namespace", ns, LabelMessage));
        }

        if (metadata["labels"] is JsonObject labels)
        {
            foreach (var (key, value) in labels)
            {
                ValidateQualifiedName(key, "metadata.labels", errors);
                // Both rules, each its own cause, as apimachinery's IsValidLabelValue reports them.
                var text = value?.ToString() ?? "";
                if (text.Length > 63)
                {
                    errors.Add(FieldError.Invalid("metadata.labels", value, "must be no more than 63 characters"));
                }

                if (!LabelValue().IsMatch(text))
                {
                    errors.Add(FieldError.Invalid("metadata.labels", value, LabelValueMessage));
                }
            }
        }

        if (metadata["annotations"] is JsonObject annotations)
        {
            var total = 0;
            foreach (var (key, value) in annotations)
            {
                ValidateQualifiedName(key.ToLowerInvariant(), "metadata.annotations", errors);
                total += key.Length + Encoding.UTF8.GetByteCount(value?.ToString() ?? "");
            }

            if (total > TotalAnnotationSizeLimit)
            {
                errors.Add(FieldError.TooLong("metadata.annotations", TotalAnnotationSizeLimit));
            }
        }

        if (metadata["finalizers"] is JsonArray finalizers)
        {
            for (var i = 0; i < finalizers.Count; i++)
            {
                var finalizer = finalizers[i]?.ToString() ?? "";
                ValidateQualifiedName(finalizer, $"metadata.finalizers[{i}]", errors);
                if (!finalizer.Contains('/', StringComparison.Ordinal) && finalizer is not ("kubernetes" or "orphan" or "foregroundDeletion"))
                {
                    errors.Add(FieldError.Invalid($"metadata.finalizers[{i}]", finalizers[i], "name is neither a standard finalizer name nor is it fully qualified"));
                }
            }
        }

        if (metadata["ownerReferences"] is JsonArray owners)
        {
            var controllers = 0;
            for (var i = 0; i < owners.Count; i++)
            {
                var path = $"metadata.ownerReferences[{i}]";
                if (owners[i] is not JsonObject owner)
                {
                    continue;
                }

                foreach (var field in new[] { "apiVersion", "kind", "name", "uid" })
                {
                    if (string.IsNullOrEmpty((string?)owner[field]))
                    {
                        errors.Add(field is "apiVersion" or "kind"
                            ? FieldError.Invalid($"{path}.{field}", owner[field], $"{field} must not be empty")
                            : FieldError.Invalid($"{path}.{field}", owner[field], $"{field} must not be empty"));
                    }
                }

                if (owner["controller"] is JsonValue controller && controller.GetValueKind() == System.Text.Json.JsonValueKind.True)
                {
                    controllers++;
                }
            }

            if (controllers > 1)
            {
                errors.Add(FieldError.Invalid("metadata.ownerReferences", owners, "Only one reference can have Controller set to true"));
            }
        }
    }

    public static void ValidateName(string name, bool isLabel, string field, List<FieldError> errors)
    {
        if (name.Length == 0)
        {
            return;
        }

        if (isLabel ? !IsDnsLabel(name) : !IsDnsSubdomain(name))
        {
            errors.Add(FieldError.Invalid(field, JsonValue.Create(name), isLabel ? LabelMessage : SubdomainMessage));
        }
    }

    public static bool IsDnsLabel(string value) => value.Length <= 63 && DnsLabel().IsMatch(value);

    public static bool IsDnsSubdomain(string value) => value.Length <= 253 && DnsSubdomain().IsMatch(value);

    private static void ValidateQualifiedName(string value, string field, List<FieldError> errors)
    {
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        var name = slash >= 0 ? value[(slash + 1)..] : value;
        if (slash >= 0 && !IsDnsSubdomain(value[..slash]))
        {
            errors.Add(FieldError.Invalid(field, JsonValue.Create(value), "prefix part " + SubdomainMessage));
        }

        if (name.Length == 0 || name.Length > 63 || !QualifiedName().IsMatch(name))
        {
            errors.Add(FieldError.Invalid(field, JsonValue.Create(value), QualifiedNameMessage));
        }
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex DnsSubdomain();

    [GeneratedRegex("^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")]
    private static partial Regex QualifiedName();

    [GeneratedRegex("^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")]
    private static partial Regex LabelValue();
}
