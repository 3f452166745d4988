using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Snapshot;

// Until the registry-backed source and sink are wired in, the sidecar runs with an empty in-memory
// snapshot (every key is unknown) and keeps usage in memory.
var app = SidecarApp.Create(options: null, new InMemoryKeySnapshotSource(), new InMemoryUsageSink(), args: args);
await app.RunAsync();
