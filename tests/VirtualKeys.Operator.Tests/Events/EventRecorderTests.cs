using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using VirtualKeys.LocalCluster;
using VirtualKeys.Model;
using VirtualKeys.Operator.Events;
using VirtualKeys.Operator.Observability;
using VirtualKeys.Operator.Tests.Support;

namespace VirtualKeys.Operator.Tests.Events;

public sealed class EventRecorderTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_key_whose_name_uses_all_253_characters_still_gets_its_events_and_their_repeats()
    {
        await using var server = await LocalApiServer.StartAsync(new LocalApiServerOptions(), Ct);
        using var client = new Kubernetes(server.CreateClientConfiguration());
        var recorder = new EventRecorder(client, TimeProvider.System, NoExternalCallObserver.Instance, NullLogger<EventRecorder>.Instance, "test");

        // Cut to make room for the time (a dot and 15 hex digits until the year 5700), this name
        // would end in "-", which the Event's name may not.
        var name = string.Concat(new string('a', 236), "-", new string('b', 16));
        var key = OperatorEnvironment.NewKey(name);
        key.Metadata.NamespaceProperty = OperatorEnvironment.Ns;
        key.Metadata.Uid = Guid.NewGuid().ToString();
        Assert.Equal(253, name.Length);

        await recorder.RecordAsync(key, EventRecorder.Warning, "BudgetExhausted", "spent", Ct);
        await recorder.RecordAsync(key, EventRecorder.Warning, "BudgetExhausted", "spent", Ct);

        var events = await client.CoreV1.ListNamespacedEventAsync(OperatorEnvironment.Ns, cancellationToken: Ct);
        var recorded = Assert.Single(events.Items);
        Assert.Equal(name, recorded.InvolvedObject.Name);
        Assert.Equal(2, recorded.Count);
        Assert.True(recorded.Metadata.Name.Length <= 253);
        Assert.StartsWith(new string('a', 236) + ".", recorded.Metadata.Name, StringComparison.Ordinal);
    }
}
