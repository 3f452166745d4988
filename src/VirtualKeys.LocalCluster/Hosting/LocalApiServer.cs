using System.Net;
using System.Text.Json.Nodes;
using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtualKeys.LocalCluster.Api;
using VirtualKeys.LocalCluster.Handlers;
using VirtualKeys.LocalCluster.Hosting;
using VirtualKeys.LocalCluster.Lifecycle;
using VirtualKeys.LocalCluster.Registry;
using VirtualKeys.LocalCluster.Storage;

namespace VirtualKeys.LocalCluster;

/// <summary>
/// An in-process Kubernetes API server for development and tests (not a production cluster):
/// plain HTTP on 127.0.0.1, objects in memory, the REST and watch semantics of a real
/// kube-apiserver for Namespaces, Secrets, ConfigMaps, Events, Leases, CRDs and the custom
/// resources they declare. The real kubectl and the official C# client both work against it.
/// </summary>
public sealed class LocalApiServer : IAsyncDisposable
{
    private static readonly string[] InitialNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"];
    private readonly WebApplication _app;
    private readonly LifecycleController _lifecycle;
    private readonly ObjectStore _store;
    private readonly LocalApiServerOptions _options;
    private int _disposed;

    private LocalApiServer(WebApplication app, LifecycleController lifecycle, ObjectStore store, FaultInjector faults, ApiRequestCounts requests, LocalApiServerOptions options, Uri baseAddress)
    {
        _app = app;
        _lifecycle = lifecycle;
        _store = store;
        _options = options;
        Faults = faults;
        Requests = requests;
        BaseAddress = baseAddress;
        store.Committed += change => Committed?.Invoke(change.Object.StorageKey, change.Object.Json);
    }

    /// <summary>
    /// Raised after every write the server commits (create, update, delete), with the resource's
    /// storage key (such as <c>/secrets</c>) and the object's JSON as stored. For tests that must see
    /// every version of an object, however briefly it lived, without requests of their own (which
    /// injected failures would count).
    /// </summary>
    public event Action<string, byte[]>? Committed;

    /// <summary>http://127.0.0.1:{port}/</summary>
    public Uri BaseAddress { get; }

    public FaultInjector Faults { get; }

    /// <summary>Resource requests received so far, by verb, resource and subresource: to count what a client wrote.</summary>
    public ApiRequestCounts Requests { get; }

    /// <summary>The cluster-wide resourceVersion of the latest write.</summary>
    public long CurrentResourceVersion => _store.CurrentRevision;

    public int OpenWatchCount => _store.WatcherCount;

    public static async Task<LocalApiServer> StartAsync(LocalApiServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new LocalApiServerOptions();
        options.Validate();
        var loggerFactory = options.LoggerFactory ?? NullLoggerFactory.Instance;
        var logger = loggerFactory.CreateLogger("VirtualKeys.LocalCluster");

        var store = new ObjectStore(options.WatchHistoryCapacity);
        var registry = new ResourceRegistry(BuiltInResources.Create());
        var operations = new ResourceOperations(store, registry, options.TimeProvider);
        var lifecycle = new LifecycleController(operations, logger);
        var namespaces = registry.Find("", "v1", "namespaces")!;
        foreach (var name in InitialNamespaces)
        {
            operations.Create(namespaces, "", new JsonObject { ["metadata"] = new JsonObject { ["name"] = name } }, WriteOptions.Internal);
        }

        var faults = new FaultInjector(store);
        var tables = new TableConverter(options.TimeProvider);
        var requests = new ApiRequestCounts();
        var resources = new ResourceHandler(operations, new WatchHandler(store, tables, options), tables, faults, requests, options);
        var dispatcher = new ApiRequestDispatcher(registry, resources, new OpenApiDocuments(registry), faults, options, logger);

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddLogging();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton<IHostLifetime, EmbeddedHostLifetime>();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, options.Port, listen => listen.Protocols = HttpProtocols.Http1);
        });
        var app = builder.Build();
        app.Run(dispatcher.HandleAsync);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await lifecycle.DisposeAsync();
            await app.DisposeAsync();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var baseAddress = new Uri(address.EndsWith('/') ? address : address + "/");
        Log.Listening(logger, baseAddress);
        return new LocalApiServer(app, lifecycle, store, faults, requests, options, baseAddress);
    }

    /// <summary>A configuration for the official C# client (k8s.Kubernetes) pointing at this server.</summary>
    public KubernetesClientConfiguration CreateClientConfiguration() => new()
    {
        Host = BaseAddress.ToString().TrimEnd('/'),
        AccessToken = _options.BearerToken,
        Namespace = "default",
    };

    /// <summary>The kubeconfig text kubectl needs for this server (context "vk-local-cluster").</summary>
    public string CreateKubeconfig(string defaultNamespace = "default") =>
        KubeconfigWriter.Render(BaseAddress, _options.BearerToken, defaultNamespace);

    /// <summary>Writes the kubeconfig to <paramref name="path"/>, creating its folder; use with kubectl --kubeconfig or KUBECONFIG.</summary>
    public void WriteKubeconfig(string path, string defaultNamespace = "default")
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null)
        {
            Directory.CreateDirectory(folder);
        }

        File.WriteAllText(path, CreateKubeconfig(defaultNamespace));
    }

    /// <summary>Ends open watches, stops listening and background work.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        _store.DropAllWatchers();
        await _app.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await StopAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
        }

        await _lifecycle.DisposeAsync();
        await _app.DisposeAsync();
    }
}
