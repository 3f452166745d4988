using System.CommandLine;
using System.Globalization;
using VirtualKeys.Cli.Help;
using VirtualKeys.Cli.Kubernetes;
using VirtualKeys.Cli.Running;
using VirtualKeys.Model;

namespace VirtualKeys.Cli.Commands;

/// <summary><c>vk rotate</c>: asks the operator for a new token by giving the rotate annotation a new value.</summary>
internal static class RotateCommand
{
    public static Command Create(TimeProvider? timeProvider = null)
    {
        var clock = timeProvider ?? TimeProvider.System;
        var name = new Argument<string>("NAME") { Description = "The VirtualKey" };
        var cluster = new ClusterOptions();
        var command = cluster.AddTo(new Command("rotate", $"Ask the operator for a new token (sets the {WellKnown.RotateTokenAnnotation} annotation); the old token keeps working for a grace period")
        {
            name,
        }).WithExamples(
            "vk rotate quickstart",
            "vk rotate team-a -n team-a && vk token team-a -n team-a");
        command.SetAction((parseResult, cancellationToken) =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            return CommandRunner.RunAsync("rotate", stderr, cancellationToken, async () =>
            {
                using var connection = cluster.Connect(parseResult);
                var ns = connection.Namespace;
                var keyName = parseResult.GetValue(name)!;

                // Any new value asks for a rotation; a timestamp also records when it was asked for.
                var value = clock.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
                var virtualKey = await connection.VirtualKeys.SetAnnotationAsync(ns, keyName, WellKnown.RotateTokenAnnotation, value, cancellationToken);
                stdout.WriteLine($"virtualkey {ns}/{keyName}: new token requested ({WellKnown.RotateTokenAnnotation}={value})");
                stdout.WriteLine($"The operator writes the new token into the Secret {ns}/{virtualKey.GetTokenSecretName()}. The old token keeps working for the");
                stdout.WriteLine("operator's grace period (Operator__TokenRotationGrace, 1 hour by default): switch clients over before it ends.");
                return 0;
            });
        });
        return command;
    }
}
