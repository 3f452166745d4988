using System.Diagnostics;
using System.Globalization;

namespace VirtualKeys.Registry.Tests;

/// <summary>
/// A cluster whose temp directory is reached through a symbolic link: /proc shows its processes'
/// working directory with the link resolved, and disposing the cluster must still find and end them.
/// </summary>
[Collection(TempDirectoryCollection.Name)]
public sealed class PostgresClusterSymlinkTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Disposing_a_cluster_under_a_symlinked_temp_directory_ends_its_server_and_removes_its_directory()
    {
        var name = "vk-pg-symlinked-" + Guid.NewGuid().ToString("N")[..12];
        var real = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), name)).FullName;
        var link = Directory.CreateSymbolicLink(real + "-link", real).FullName;
        try
        {
            var cluster = await StartNewUnderAsync(link);
            var root = cluster.RootDirectory;
            var whileRunning = ProcessesWorkingUnder(name);

            await cluster.DisposeAsync();
            var leftovers = ProcessesWorkingUnder(name);
            Kill(leftovers);

            Assert.StartsWith(link + "/", root, StringComparison.Ordinal);
            Assert.NotEmpty(whileRunning);
            Assert.Empty(leftovers);
            Assert.False(Directory.Exists(root));
        }
        finally
        {
            Directory.Delete(link);
            Directory.Delete(real, recursive: true);
        }
    }

    private static async Task<PostgresCluster> StartNewUnderAsync(string temp)
    {
        var previous = Environment.GetEnvironmentVariable("TMPDIR");
        Environment.SetEnvironmentVariable("TMPDIR", temp);
        try
        {
            return await PostgresCluster.StartNewAsync(cancellationToken: Ct);
        }
        finally
        {
            Environment.SetEnvironmentVariable("TMPDIR", previous);
        }
    }

    /// <summary>Processes whose working directory, as /proc shows it (links resolved), is inside a directory named <paramref name="name"/>.</summary>
    private static List<int> ProcessesWorkingUnder(string name)
    {
        var found = new List<int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                if (new FileInfo(Path.Combine(entry, "cwd")).LinkTarget?.Contains($"/{name}/", StringComparison.Ordinal) == true)
                {
                    found.Add(pid);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Gone, or not ours to read.
            }
        }

        return found;
    }

    /// <summary>Ends what a failed clean-up left running, so a failing run leaves no server behind.</summary>
    private static void Kill(List<int> pids)
    {
        foreach (var pid in pids)
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill();
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Already gone.
            }
        }
    }
}
