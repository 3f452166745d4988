using System.CommandLine;
using VirtualKeys.Cli.Help;
using VirtualKeys.Model;
using VirtualKeys.Model.Crd;

namespace VirtualKeys.Cli.Commands;

/// <summary><c>vk crd</c>: the VirtualKey CRD, generated from the C# model.</summary>
internal static class CrdCommand
{
    public static Command Create()
    {
        var output = new Option<DirectoryInfo?>("--output", "-o")
        {
            Description = $"Write {CrdGenerator.BasesDirectory}/<file> (and crd/kustomization.yaml when missing) under DIR instead of printing",
            HelpName = "DIR",
        };
        var command = new Command("crd", "Print the VirtualKey CustomResourceDefinition as YAML, generated from the C# model")
        {
            output,
        }.WithExamples(
            "vk crd | kubectl apply -f -",
            "vk crd --output config    # writes config/crd/bases/aigateway.dev_virtualkeys.yaml");
        command.SetAction(parseResult => Run(
            parseResult.GetValue(output),
            parseResult.InvocationConfiguration.Output,
            parseResult.InvocationConfiguration.Error));
        return command;
    }

    private static int Run(DirectoryInfo? outputDirectory, TextWriter stdout, TextWriter stderr)
    {
        string yaml;
        string fileName;
        try
        {
            var crd = CrdGenerator.Generate(typeof(VirtualKey));
            yaml = CrdGenerator.ToYaml(crd);
            fileName = CrdGenerator.FileName(crd);
        }
        catch (Exception ex) when (ex is InvalidOperationException or NotSupportedException or IOException)
        {
            stderr.WriteLine($"vk crd: cannot generate the CRD: {ex.Message}");
            return 1;
        }

        if (outputDirectory is null)
        {
            stdout.Write(yaml);
            return 0;
        }

        var basesDirectory = Path.Combine(outputDirectory.FullName, CrdGenerator.BasesDirectory);
        var crdPath = Path.Combine(basesDirectory, fileName);
        var kustomizationPath = Path.Combine(Path.GetDirectoryName(basesDirectory)!, "kustomization.yaml");
        var resourceEntry = $"bases/{fileName}";
        try
        {
            Directory.CreateDirectory(basesDirectory);
            File.WriteAllText(crdPath, yaml);
            stdout.WriteLine($"wrote {crdPath}");
            if (!File.Exists(kustomizationPath))
            {
                File.WriteAllText(kustomizationPath, $"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- {resourceEntry}\n");
                stdout.WriteLine($"wrote {kustomizationPath}");
            }
            else if (!File.ReadAllText(kustomizationPath).Contains(resourceEntry, StringComparison.Ordinal))
            {
                stderr.WriteLine($"vk crd: warning: {kustomizationPath} does not list {resourceEntry}");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"vk crd: cannot write under {outputDirectory.FullName}: {ex.Message}");
            return 1;
        }

        return 0;
    }
}
