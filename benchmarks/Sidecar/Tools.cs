namespace VirtualKeys.Sidecar.Benchmarks;

/// <summary>Finds the external programs the run drives.</summary>
internal static class Tools
{
    /// <summary>The program on PATH, else in <paramref name="fallbackDirectory"/> (sbin is not on every PATH); null when absent.</summary>
    public static string? Find(string name, string? fallbackDirectory = null)
    {
        var directories = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).ToList();
        if (fallbackDirectory is not null)
        {
            directories.Add(fallbackDirectory);
        }

        return directories.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }
}
