namespace VirtualKeys.LocalCluster.Registry;

/// <summary>One additionalPrinterColumns entry of a CRD version.</summary>
internal sealed record PrinterColumn(string Name, string Type, string? Format, string Description, int Priority, string JsonPath);
