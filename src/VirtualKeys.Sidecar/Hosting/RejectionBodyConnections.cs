using System.IO.Pipelines;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using VirtualKeys.Sidecar.Errors;

namespace VirtualKeys.Sidecar.Hosting;

/// <summary>Connection middleware that gives Kestrel's own refusals the sidecar's JSON error body (<see cref="KestrelRejections"/>).</summary>
internal static class RejectionBodyConnections
{
    public static void UseJsonRejectionBodies(this ListenOptions listen) =>
        listen.Use(next => connection =>
        {
            var writer = new RejectionBodyWriter(connection.Transport.Output);
            writer.Attach(connection.Items);
            connection.Transport = new Transport(connection.Transport.Input, writer);
            return next(connection);
        });

    private sealed class Transport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
