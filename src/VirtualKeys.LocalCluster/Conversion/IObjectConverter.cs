using System.Text.Json.Nodes;

namespace VirtualKeys.LocalCluster.Conversion;

/// <summary>Converts between the storage form of a resource and the form one API version serves.</summary>
internal interface IObjectConverter
{
    JsonObject FromStorage(JsonObject stored);

    JsonObject ToStorage(JsonObject served);
}
