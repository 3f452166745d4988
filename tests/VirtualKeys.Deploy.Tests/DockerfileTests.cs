using System.Text.RegularExpressions;
using VirtualKeys.Testing;

namespace VirtualKeys.Deploy.Tests;

/// <summary>
/// No Docker engine runs here, so the Dockerfile is checked for what can go wrong without one:
/// every path it copies from the build context exists, and each entrypoint names the assembly
/// its project publishes.
/// </summary>
public partial class DockerfileTests
{
    private static readonly string Dockerfile = File.ReadAllText(Path.Combine(ToolPaths.RepositoryRoot, "Dockerfile"));

    [Fact]
    public void Every_path_copied_from_the_context_exists()
    {
        var copies = CopyFromContext().Matches(Dockerfile).SelectMany(m => m.Groups["sources"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();

        Assert.NotEmpty(copies);
        foreach (var source in copies)
        {
            var path = Path.Combine(ToolPaths.RepositoryRoot, source);
            Assert.True(File.Exists(path) || Directory.Exists(path), $"Dockerfile copies {source}, which does not exist");
        }
    }

    [Theory]
    [InlineData("operator", "VirtualKeys.Operator")]
    [InlineData("sidecar", "VirtualKeys.Sidecar")]
    public void Entrypoint_runs_the_assembly_the_project_publishes(string target, string project)
    {
        var stage = Regex.Match(Dockerfile, $@"FROM \S+ AS {target}\n(?<body>(?:(?!FROM ).*\n?)*)");
        Assert.True(stage.Success, $"no stage named {target}");
        var csproj = File.ReadAllText(Path.Combine(ToolPaths.RepositoryRoot, "src", project, project + ".csproj"));
        var assemblyName = Regex.Match(csproj, "<AssemblyName>(.+)</AssemblyName>") is { Success: true } m ? m.Groups[1].Value : project;

        Assert.Contains($"ENTRYPOINT [\"dotnet\", \"/app/{assemblyName}.dll\"]", stage.Groups["body"].Value);
        Assert.Contains($"src/{project}/{project}.csproj", Dockerfile);
        Assert.Contains("USER 64198", Dockerfile);
    }

    [GeneratedRegex(@"^COPY (?!--from)(?<sources>.+?) \S+$", RegexOptions.Multiline)]
    private static partial Regex CopyFromContext();
}
