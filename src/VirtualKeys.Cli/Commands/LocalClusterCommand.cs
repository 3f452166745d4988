using System.CommandLine;
using k8s;
using VirtualKeys.Cli.Help;
using VirtualKeys.Cli.Kubernetes;
using VirtualKeys.Cli.Running;
using VirtualKeys.LocalCluster;
using VirtualKeys.Model;

namespace VirtualKeys.Cli.Commands;

/// <summary><c>vk local-cluster</c>: the in-process API server in the foreground, for trying things with kubectl.</summary>
internal static class LocalClusterCommand
{
    public static Command Create()
    {
        var kubeconfig = new Option<FileInfo>("--kubeconfig")
        {
            Description = "Write the kubeconfig for the server to FILE (overwritten if it exists)",
            HelpName = "FILE",
            Required = true,
        };
        var port = new Option<int>("--port")
        {
            Description = "Listen on 127.0.0.1:N; 0 picks a free port",
            HelpName = "N",
            DefaultValueFactory = _ => 0,
        };
        port.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 0 or > 65535)
            {
                result.AddError("--port must be between 0 and 65535.");
            }
        });
        var noCrd = new Option<bool>("--no-crd")
        {
            Description = "Do not install the VirtualKey CRD",
        };
        var command = new Command(
            "local-cluster",
            "Run a local Kubernetes API server in the foreground (in memory, for development and tests; not a production cluster) until Ctrl+C")
        {
            kubeconfig,
            port,
            noCrd,
        }.WithExamples(
            "vk local-cluster --kubeconfig /tmp/vk.kubeconfig",
            "KUBECONFIG=/tmp/vk.kubeconfig kubectl get vk    # in another terminal",
            "vk local-cluster --kubeconfig /tmp/vk.kubeconfig --port 6443 --no-crd");
        command.SetAction((parseResult, cancellationToken) =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            return CommandRunner.RunAsync("local-cluster", stderr, cancellationToken, () => RunAsync(
                parseResult.GetValue(kubeconfig)!,
                parseResult.GetValue(port),
                !parseResult.GetValue(noCrd),
                stdout,
                cancellationToken));
        });
        return command;
    }

    private static async Task<int> RunAsync(FileInfo kubeconfig, int port, bool installCrd, TextWriter stdout, CancellationToken cancellationToken)
    {
        stdout.WriteLine("Starting the local Kubernetes API server (objects live in memory; for development and tests only)...");
        LocalApiServer server;
        try
        {
            server = await LocalApiServer.StartAsync(new LocalApiServerOptions { Port = port }, cancellationToken);
        }
        catch (IOException ex)
        {
            throw new CliException($"cannot listen on 127.0.0.1:{port}: {ex.Message}", ex);
        }

        await using (server)
        {
            stdout.WriteLine($"Listening on {server.BaseAddress}");
            if (installCrd)
            {
                using var client = new k8s.Kubernetes(server.CreateClientConfiguration());
                await CrdInstaller.InstallAsync(client, cancellationToken);
                await CrdInstaller.WaitUntilServedAsync(client, TimeSpan.FromSeconds(10), cancellationToken);
                stdout.WriteLine($"Installed the CustomResourceDefinition {WellKnown.CrdName}");
            }

            try
            {
                server.WriteKubeconfig(kubeconfig.FullName);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"cannot write the kubeconfig {kubeconfig.FullName}: {ex.Message}", ex);
            }

            stdout.WriteLine($"Wrote the kubeconfig {kubeconfig.FullName}");
            stdout.WriteLine();
            stdout.WriteLine("Use it from another terminal:");
            stdout.WriteLine($"  export KUBECONFIG={kubeconfig.FullName}");
            stdout.WriteLine("  kubectl get vk");
            stdout.WriteLine("  kubectl apply -k examples/quickstart");
            stdout.WriteLine();
            stdout.WriteLine("Press Ctrl+C to stop; everything stored in the server is lost.");
            await stdout.FlushAsync(cancellationToken);

            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
            }

            stdout.WriteLine("Stopping the local API server.");
        }

        return 0;
    }
}
