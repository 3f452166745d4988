namespace VirtualKeys.Sidecar.Tests.Registry;

/// <summary>A test class whose every test gets a fresh sidecar wired to the class's registry database.</summary>
public abstract class RegistrySidecarTests(SidecarRegistryFixture database) : IClassFixture<SidecarRegistryFixture>, IAsyncLifetime
{
    private RegistrySidecar? _sidecar;

    protected static CancellationToken Cancel => TestContext.Current.CancellationToken;

    protected SidecarRegistryFixture Database => database;

    private protected RegistrySidecar Sidecar => _sidecar ?? throw new InvalidOperationException("Not started.");

    public async ValueTask InitializeAsync()
    {
        _sidecar = await RegistrySidecar.StartAsync(database.ConnectionString, database.KekPath);
    }

    public async ValueTask DisposeAsync()
    {
        if (_sidecar is not null)
        {
            await _sidecar.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }
}
