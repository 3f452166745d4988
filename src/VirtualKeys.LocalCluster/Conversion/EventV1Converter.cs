using System.Text.Json.Nodes;

namespace VirtualKeys.LocalCluster.Conversion;

/// <summary>
/// events.k8s.io/v1 Events share storage with core/v1 Events, as on a real server: an Event
/// written through one API is listed by the other (kubectl get events reads core/v1).
/// </summary>
internal sealed class EventV1Converter : IObjectConverter
{
    private static readonly (string Core, string V1)[] Renames =
    [
        ("involvedObject", "regarding"),
        ("message", "note"),
        ("source", "deprecatedSource"),
        ("firstTimestamp", "deprecatedFirstTimestamp"),
        ("lastTimestamp", "deprecatedLastTimestamp"),
        ("count", "deprecatedCount"),
        ("reportingComponent", "reportingController"),
    ];

    public JsonObject FromStorage(JsonObject stored)
    {
        var result = Rename(stored, fromCore: true);
        result["apiVersion"] = "events.k8s.io/v1";
        return result;
    }

    public JsonObject ToStorage(JsonObject served)
    {
        var result = Rename(served, fromCore: false);
        result["apiVersion"] = "v1";
        return result;
    }

    private static JsonObject Rename(JsonObject source, bool fromCore)
    {
        var result = new JsonObject();
        foreach (var (key, value) in source)
        {
            var target = key;
            foreach (var (core, v1) in Renames)
            {
                if (fromCore && key == core)
                {
                    target = v1;
                }
                else if (!fromCore && key == v1)
                {
                    target = core;
                }
            }

            result[target] = value?.DeepClone();
        }

        return result;
    }
}
