using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Registry;
using VirtualKeys.Sidecar.Snapshot;

// The same sources SidecarApp binds its options from: appsettings.json, environment, arguments.
var configuration = new ConfigurationBuilder()
    .SetBasePath(AppContext.BaseDirectory)
    .AddJsonFile("appsettings.json", optional: true)
    .AddEnvironmentVariables()
    .AddCommandLine(args)
    .Build();

var connectionString = configuration["Registry:ConnectionString"];
var kekFile = configuration["Registry:KekFile"];
var previousKekFiles = KeyEncryptionKeys.SplitPathList(configuration["Registry:PreviousKekFiles"]);

// Every setting is read and checked before anything starts: a bad one stops the process with one line
// naming it and exit code 2, not with a stack trace after the registry was opened. (The binder names
// the setting of a value it cannot convert: "Failed to convert configuration value at 'Sidecar:Port'".)
SidecarOptions sidecarOptions;
QuotaOptions quotaOptions;
TimeSpan? fullSyncInterval;
bool inMemoryAsked;
try
{
    sidecarOptions = configuration.GetSection(SidecarOptions.SectionName).Get<SidecarOptions>() ?? new SidecarOptions();
    sidecarOptions.Validate();
    quotaOptions = configuration.GetSection(QuotaOptions.SectionName).Get<QuotaOptions>() ?? new QuotaOptions();
    quotaOptions.Validate();
    fullSyncInterval = configuration.GetValue<TimeSpan?>("Registry:FullSyncInterval");
    inMemoryAsked = configuration.GetValue<bool>("Sidecar:InMemory");
}
catch (InvalidOperationException ex)
{
    await Console.Error.WriteLineAsync($"vk-sidecar: {ex.Message}");
    return 2;
}

// In-memory mode (no keys, usage kept in memory) only when asked for and nothing names a registry.
if (string.IsNullOrWhiteSpace(connectionString) && string.IsNullOrWhiteSpace(kekFile) && inMemoryAsked)
{
    var inMemory = SidecarApp.Create(sidecarOptions, new InMemoryKeySnapshotSource(), new InMemoryUsageSink(), args: args);
    await inMemory.RunAsync();
    return 0;
}

if (string.IsNullOrWhiteSpace(connectionString))
{
    await Console.Error.WriteLineAsync("vk-sidecar: the setting Registry:ConnectionString (environment Registry__ConnectionString) is required.");
    return 2;
}

if (string.IsNullOrWhiteSpace(kekFile))
{
    await Console.Error.WriteLineAsync("vk-sidecar: the setting Registry:KekFile (environment Registry__KekFile) is required.");
    return 2;
}

// Npgsql logs every command at Information; the "Logging" section can still turn it up.
using var loggerFactory = LoggerFactory.Create(logging => logging
    .AddFilter("Npgsql", LogLevel.Warning)
    .AddConfiguration(configuration.GetSection("Logging"))
    .AddSimpleConsole());

// Checked here for a message that names the setting (VirtualKeyRegistry.OpenAsync also reads every KEK
// file before it contacts the server).
if (!File.Exists(kekFile))
{
    await Console.Error.WriteLineAsync($"vk-sidecar: the KEK file {kekFile} (Registry__KekFile) does not exist: mount the operator's KEK Secret there.");
    return 1;
}

// A server that is not there yet is waited for, not listening meanwhile; what waiting cannot fix ends
// the process (exit code 1), and a stop asked for while waiting ends it with 0.
VirtualKeyRegistry? registry;
try
{
    registry = await RegistryAtStart.OpenAsync(
        ct => VirtualKeyRegistry.OpenAsync(connectionString, kekFile, previousKekFiles, TimeProvider.System, loggerFactory, ct),
        (ex, wait) => Console.Error.WriteLineAsync(
            $"vk-sidecar: cannot open the registry yet: {ex.Message} Trying again in about {wait.TotalSeconds:0} s; not listening until it opens."));
}
catch (Exception ex) when (RegistryFailure.Describe(ex) is { } reason)
{
    await Console.Error.WriteLineAsync($"vk-sidecar: cannot open the registry: {reason}");
    return 1;
}

if (registry is null)
{
    return 0;
}

await using (registry)
{
    // Quota:Mode Shared (default) leases limits from the registry so they hold across replicas; Local keeps them in this process.
    var wiring = RegistrySidecarWiring.Create(registry, quotaOptions, TimeProvider.System, loggerFactory, fullSyncInterval);
    var app = wiring.CreateApp(sidecarOptions, TimeProvider.System, args: args);
    await app.RunAsync();
}

return 0;
