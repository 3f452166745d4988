using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualKeys.LocalCluster.Api;
using VirtualKeys.LocalCluster.Json;
using VirtualKeys.LocalCluster.Registry;
using VirtualKeys.LocalCluster.Storage;

namespace VirtualKeys.LocalCluster.Handlers;

/// <summary>
/// Server-side printing (meta.k8s.io Table): a CRD's additionalPrinterColumns, evaluated as the
/// apiextensions table convertor does, and the familiar columns of the built-in kinds.
/// </summary>
internal sealed class TableConverter
{
    private const string NameDescription = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
    private const string AgeDescription = "CreationTimestamp is a timestamp representing the server time when this object was created.";
    private readonly TimeProvider _time;

    public TableConverter(TimeProvider time)
    {
        _time = time;
    }

    public JsonObject Build(ResourceType type, IReadOnlyList<StoredObject> items, string metaVersion, string? includeObject, long resourceVersion, string? continueToken, long? remaining)
    {
        var columns = Columns(type);
        var definitions = new JsonArray();
        foreach (var column in columns)
        {
            var definition = new JsonObject
            {
                ["name"] = column.Name,
                ["type"] = column.Type == "date" && !type.IsCustom ? "string" : column.Type,
                ["format"] = column.Format ?? "",
                ["description"] = column.Description,
                ["priority"] = column.Priority,
            };
            definitions.Add(definition);
        }

        var paths = columns.Select(c => c.JsonPath.StartsWith('#') ? null : TryParse(c.JsonPath)).ToArray();
        var rows = new JsonArray();
        foreach (var item in items)
        {
            var row = new JsonObject { ["cells"] = Cells(type, columns, paths, item) };
            var objectForm = includeObject ?? "Metadata";
            if (objectForm == "Object")
            {
                row["object"] = JsonNode.Parse(ObjectRenderer.Render(type, item));
            }
            else if (objectForm != "None")
            {
                row["object"] = PartialMetadata(item, metaVersion);
            }

            rows.Add(row);
        }

        var metadata = new JsonObject { ["resourceVersion"] = resourceVersion.ToString(CultureInfo.InvariantCulture) };
        if (continueToken is not null)
        {
            metadata["continue"] = continueToken;
        }

        if (remaining is not null)
        {
            metadata["remainingItemCount"] = remaining;
        }

        return new JsonObject
        {
            ["kind"] = "Table",
            ["apiVersion"] = "meta.k8s.io/" + metaVersion,
            ["metadata"] = metadata,
            ["columnDefinitions"] = definitions,
            ["rows"] = rows,
        };
    }

    public static JsonObject PartialMetadata(StoredObject item, string metaVersion) => new()
    {
        ["kind"] = "PartialObjectMetadata",
        ["apiVersion"] = "meta.k8s.io/" + metaVersion,
        ["metadata"] = JsonNode.Parse(item.Element.GetProperty("metadata").GetRawText()),
    };

    private static List<PrinterColumn> Columns(ResourceType type)
    {
        var name = new PrinterColumn("Name", "string", "name", NameDescription, 0, ".metadata.name");
        var age = new PrinterColumn("Age", "date", null, AgeDescription, 0, ".metadata.creationTimestamp");
        return type.Strategy switch
        {
            ResourceStrategy.Custom => [name, .. type.PrinterColumns.Count > 0 ? type.PrinterColumns : [age]],
            ResourceStrategy.Namespace => [name, new("Status", "string", null, "The status of the namespace", 0, ".status.phase"), age],
            ResourceStrategy.Secret => [name, new("Type", "string", null, "The type of the secret", 0, ".type"), new("Data", "string", null, "The number of entries in the data", 0, "#data"), age],
            ResourceStrategy.ConfigMap => [name, new("Data", "string", null, "Number of entries in the data", 0, "#data"), age],
            ResourceStrategy.Lease => [name, new("Holder", "string", null, "The holder of the lease", 0, ".spec.holderIdentity"), age],
            ResourceStrategy.CustomResourceDefinition => [name, new("Created At", "date", null, AgeDescription, 0, "#createdAt")],
            ResourceStrategy.Event =>
            [
                new("Last Seen", "string", null, "Time when last event of this kind was observed", 0, "#lastSeen"),
                new("Type", "string", null, "Type of this event (Normal, Warning)", 0, ".type"),
                new("Reason", "string", null, "Reason why the event was generated", 0, ".reason"),
                new("Object", "string", null, "The object this Event is about", 0, "#object"),
                new("Message", "string", null, "A human-readable description of the status of this operation", 0, ".message"),
                new("Source", "string", null, "The component reporting this event", 1, "#source"),
                new("Count", "string", null, "The number of times this event has occurred", 1, ".count"),
                new("Name", "string", "name", NameDescription, 1, ".metadata.name"),
            ],
            _ => [name, age],
        };
    }

    private static JsonPathExpression? TryParse(string path)
    {
        try
        {
            return JsonPathExpression.Parse(path);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private JsonArray Cells(ResourceType type, List<PrinterColumn> columns, JsonPathExpression?[] paths, StoredObject item)
    {
        var element = item.Element;
        var cells = new JsonArray();
        for (var i = 0; i < columns.Count; i++)
        {
            var column = columns[i];
            cells.Add(column.JsonPath switch
            {
                "#data" => JsonValue.Create(Count(element, "data") + Count(element, "binaryData")),
                "#createdAt" => JsonValue.Create(Text(element, "metadata", "creationTimestamp")),
                "#lastSeen" => JsonValue.Create(LastSeen(element)),
                "#object" => JsonValue.Create($"{Text(element, "involvedObject", "kind").ToLowerInvariant()}/{Text(element, "involvedObject", "name")}"),
                "#source" => JsonValue.Create(Text(element, "source", "component") is { Length: > 0 } component ? component : Text(element, "reportingComponent")),
                _ => Cell(column, paths[i], element, type.IsCustom),
            });
        }

        return cells;
    }

    private JsonNode? Cell(PrinterColumn column, JsonPathExpression? path, JsonElement element, bool custom)
    {
        if (path is null)
        {
            return null;
        }

        var results = path.Evaluate(element);
        if (results.Count == 0 || results[0].ValueKind == JsonValueKind.Null)
        {
            return custom ? null : JsonValue.Create("<none>");
        }

        var value = results[0];
        switch (column.Type)
        {
            case "integer" when value.ValueKind == JsonValueKind.Number:
                return value.TryGetInt64(out var integer) ? JsonValue.Create(integer) : JsonValue.Create((long)value.GetDouble());
            case "number" when value.ValueKind == JsonValueKind.Number:
                return JsonValue.Create(value.GetDouble());
            case "boolean" when value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                return JsonValue.Create(value.GetBoolean());
            case "date" when value.ValueKind == JsonValueKind.String:
                return JsonValue.Create(Age(value.GetString()));
            case "string":
                return JsonValue.Create(value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText());
            default:
                return null;
        }
    }

    private string Age(string? timestamp) =>
        DateTimeOffset.TryParse(timestamp, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? HumanDuration.Format(_time.GetUtcNow() - at)
            : "<invalid>";

    private string LastSeen(JsonElement element)
    {
        var at = Text(element, "series", "lastObservedTime") is { Length: > 0 } series ? series
            : Text(element, "lastTimestamp") is { Length: > 0 } last ? last
            : Text(element, "eventTime") is { Length: > 0 } eventTime ? eventTime
            : Text(element, "metadata", "creationTimestamp");
        return at.Length == 0 ? "<unknown>" : Age(at);
    }

    private static int Count(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Object ? value.EnumerateObject().Count() : 0;

    private static string Text(JsonElement element, params string[] path)
    {
        foreach (var segment in path)
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(segment, out element))
            {
                return "";
            }
        }

        return element.ValueKind == JsonValueKind.String ? element.GetString() ?? "" : element.ValueKind is JsonValueKind.Number ? element.GetRawText() : "";
    }
}
