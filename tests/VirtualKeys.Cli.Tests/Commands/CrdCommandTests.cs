using k8s;
using k8s.Models;
using VirtualKeys.Cli.Commands;
using VirtualKeys.Cli.Tests.Support;
using VirtualKeys.Testing;

namespace VirtualKeys.Cli.Tests.Commands;

public class CrdCommandTests
{
    private const string CrdRelativePath = "crd/bases/aigateway.dev_virtualkeys.yaml";

    [Fact]
    public async Task Vk_crd_prints_a_CRD_named_for_VirtualKeys_with_its_printer_columns()
    {
        using var elsewhere = new TemporaryDirectory();

        var result = await Vk.RunProcessAsync(elsewhere.Path, "crd");

        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        var crd = KubernetesYaml.Deserialize<V1CustomResourceDefinition>(result.Stdout, strict: true);
        Assert.Equal("CustomResourceDefinition", crd.Kind);
        Assert.Equal("virtualkeys.aigateway.dev", crd.Metadata.Name);
        Assert.Equal(("aigateway.dev", "VirtualKey", "virtualkeys", "vk"), (crd.Spec.Group, crd.Spec.Names.Kind, crd.Spec.Names.Plural, crd.Spec.Names.ShortNames.Single()));
        Assert.Equal(
            ["Ready", "Default Model", "RPM", "TPM", "Spend", "Budget", "Requests", "Age"],
            crd.Spec.Versions.Single().AdditionalPrinterColumns.Select(column => column.Name));
        Assert.NotNull(crd.Spec.Versions.Single().Schema.OpenAPIV3Schema.Properties["spec"].Properties["providers"].Items);
    }

    [Fact]
    public async Task Vk_crd_prints_exactly_the_committed_CRD()
    {
        var result = await Vk.InvokeAsync(CrdCommand.Create());

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(File.ReadAllText(Path.Combine(ToolPaths.RepositoryRoot, "config", CrdRelativePath)), result.Stdout);
    }

    [Fact]
    public async Task Vk_crd_output_writes_the_CRD_and_a_kustomization_under_the_directory()
    {
        using var target = new TemporaryDirectory();

        var written = await Vk.InvokeAsync(CrdCommand.Create(), "--output", target.Path);
        var printed = await Vk.InvokeAsync(CrdCommand.Create());

        Assert.Equal((0, ""), (written.ExitCode, written.Stderr));
        Assert.Equal(printed.Stdout, File.ReadAllText(Path.Combine(target.Path, CrdRelativePath)));
        Assert.Contains("- bases/aigateway.dev_virtualkeys.yaml", File.ReadAllText(Path.Combine(target.Path, "crd", "kustomization.yaml")), StringComparison.Ordinal);
        Assert.Contains(CrdRelativePath, written.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Vk_crd_output_keeps_an_existing_kustomization()
    {
        using var target = new TemporaryDirectory();
        var kustomization = Path.Combine(target.Path, "crd", "kustomization.yaml");
        Directory.CreateDirectory(Path.GetDirectoryName(kustomization)!);
        const string Edited = "resources:\n- bases/aigateway.dev_virtualkeys.yaml\npatches:\n- path: patches/webhook.yaml\n";
        File.WriteAllText(kustomization, Edited);

        var result = await Vk.InvokeAsync(CrdCommand.Create(), "-o", target.Path);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(Edited, File.ReadAllText(kustomization));
        Assert.True(File.Exists(Path.Combine(target.Path, CrdRelativePath)));
    }

    [Fact]
    public async Task Vk_crd_output_into_a_file_fails_on_stderr_with_a_non_zero_exit()
    {
        using var target = new TemporaryDirectory();
        var notADirectory = Path.Combine(target.Path, "config");
        File.WriteAllText(notADirectory, "a file, not a directory");

        var result = await Vk.RunProcessAsync(target.Path, "crd", "--output", "config");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Contains($"vk crd: cannot write under {notADirectory}", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Vk_crd_help_shows_an_example()
    {
        using var elsewhere = new TemporaryDirectory();

        var result = await Vk.RunProcessAsync(elsewhere.Path, "crd", "--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("--output <DIR>", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Examples:\n  vk crd | kubectl apply -f -\n  vk crd --output config", result.Stdout.ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Vk_help_lists_the_crd_command_and_examples()
    {
        using var elsewhere = new TemporaryDirectory();

        var result = await Vk.RunProcessAsync(elsewhere.Path, "--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("crd", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Examples:", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_option_fails_on_stderr_with_a_non_zero_exit()
    {
        using var elsewhere = new TemporaryDirectory();

        var result = await Vk.RunProcessAsync(elsewhere.Path, "crd", "--no-such-option");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--no-such-option", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("apiVersion: apiextensions.k8s.io/v1", result.Stdout, StringComparison.Ordinal);
    }
}
