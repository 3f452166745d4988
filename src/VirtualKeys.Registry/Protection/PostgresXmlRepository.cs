using System.Xml.Linq;
using Dapper;
using Microsoft.AspNetCore.DataProtection.Repositories;
using VirtualKeys.Registry.Connections;

namespace VirtualKeys.Registry.Protection;

/// <summary>
/// Keeps the Data Protection key ring in <c>vk.data_protection_keys</c>, so every operator and sidecar
/// replica shares one ring. Data Protection calls it synchronously, on start and on ring refresh only.
/// </summary>
public sealed class PostgresXmlRepository(RegistryDatabase database) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements() =>
        database.Run(connection => connection.Query<string>("SELECT xml FROM vk.data_protection_keys ORDER BY id")
            .Select(xml => XElement.Parse(xml))
            .ToList());

    public void StoreElement(XElement element, string friendlyName)
    {
        ArgumentNullException.ThrowIfNull(element);
        var name = string.IsNullOrEmpty(friendlyName) ? "element-" + Guid.NewGuid().ToString("N") : friendlyName;
        database.Run(connection => connection.Execute(
            "INSERT INTO vk.data_protection_keys (friendly_name, xml) VALUES (@name, @xml) ON CONFLICT (friendly_name) DO NOTHING",
            new { name, xml = element.ToString(SaveOptions.DisableFormatting) }));
    }
}
