using System.Net.Http.Headers;
using System.Text.Json;
using VirtualKeys.Cli.Output;
using VirtualKeys.Model;

namespace VirtualKeys.Cli.Demo;

/// <summary>
/// The VirtualKeys of a namespace as the API server renders them for <c>kubectl get</c>: a
/// meta.k8s.io Table built from the CRD's printer columns.
/// </summary>
internal static class ServerTable
{
    private const string TableMediaType = "application/json;as=Table;v=v1;g=meta.k8s.io";

    public static async Task<(IReadOnlyList<string> Columns, TextTable Table)> GetAsync(Uri server, string ns, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"apis/{WellKnown.Group}/{WellKnown.Version}/namespaces/{ns}/{WellKnown.Plural}");
        request.Headers.Accept.Add(MediaTypeWithQualityHeaderValue.Parse(TableMediaType));
        using var response = await http.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
        using var table = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);

        var columns = table.RootElement.GetProperty("columnDefinitions").EnumerateArray()
            .Select(column => column.GetProperty("name").GetString() ?? "")
            .ToList();
        var text = new TextTable([.. columns.Select(name => name.ToUpperInvariant())]);
        foreach (var row in table.RootElement.GetProperty("rows").EnumerateArray())
        {
            text.Add([.. row.GetProperty("cells").EnumerateArray().Select(Cell)]);
        }

        return (columns, text);
    }

    private static string Cell(JsonElement cell) => cell.ValueKind switch
    {
        JsonValueKind.String => cell.GetString() ?? "",
        JsonValueKind.Null or JsonValueKind.Undefined => "",
        _ => cell.GetRawText(),
    };
}
