using System.Text.Json.Nodes;

namespace VirtualKeys.LocalCluster.Api;

/// <summary>What a write hands back: the object in storage form, the HTTP code and any warnings.</summary>
internal sealed record WriteResult(JsonObject Object, int StatusCode, IReadOnlyList<string> Warnings);
