using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualKeys.LocalCluster.Registry;
using VirtualKeys.LocalCluster.Storage;

namespace VirtualKeys.LocalCluster.Api;

/// <summary>Turns the storage form into the form a requested group/version serves.</summary>
internal static class ObjectRenderer
{
    public static byte[] Render(ResourceType served, StoredObject stored) =>
        served.ServesStorageForm ? stored.Json : JsonSerializer.SerializeToUtf8Bytes(ToServed(served, stored.ToNode()));

    public static JsonObject ToServed(ResourceType served, JsonObject storageForm)
    {
        if (served.Converter is { } converter)
        {
            return converter.FromStorage(storageForm);
        }

        if (storageForm["apiVersion"]?.ToString() != served.ApiVersion)
        {
            storageForm["apiVersion"] = served.ApiVersion;
        }

        return storageForm;
    }
}
