using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Notifications;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Registry;

/// <summary>
/// The sidecar's keys from the registry: every live key with its credentials decrypted, then what
/// LISTEN/NOTIFY reports as changed, re-read from the last change version; a periodic full comparison
/// heals notifications lost in between.
/// </summary>
/// <remarks>
/// A lost connection ends the subscription with <see cref="RegistryUnavailableException"/>: the
/// sidecar keeps serving its snapshot, reports degraded and subscribes again, which starts over with
/// a fresh listener and a full reload.
/// </remarks>
public sealed partial class RegistryKeySnapshotSource : IKeySnapshotSource, IChangeVersionObserver
{
    public static readonly TimeSpan DefaultFullSyncInterval = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Every this many periodic comparisons, one reads every key; the others read only the registry's
    /// change version (one statement) and read every key only when it differs from the version applied.
    /// </summary>
    internal const int FullReadEvery = 10;

    private readonly VirtualKeyRegistry _registry;
    private readonly ILogger _logger;
    private readonly ILogger<RegistryChangeListener> _listenerLogger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _fullSyncInterval;
    private readonly IRecordedSpendObserver? _quota;
    private readonly Lock _observedGate = new();
    private long _observedVersion = -1;
    private long _observedAtTicks;

    /// <param name="fullSyncInterval">How often to compare the whole registry with what was sent; null for <see cref="DefaultFullSyncInterval"/>.</param>
    /// <param name="quota">
    /// The sidecar's quota store, told what each budgeted key already spent in its current period
    /// (earlier runs, other replicas) at every full load and comparison and for every changed key, so
    /// neither a restart nor a key added later starts from zero spend; null to skip.
    /// </param>
    public RegistryKeySnapshotSource(
        VirtualKeyRegistry registry,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? timeProvider = null,
        TimeSpan? fullSyncInterval = null,
        IRecordedSpendObserver? quota = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var interval = fullSyncInterval ?? DefaultFullSyncInterval;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero, nameof(fullSyncInterval));
        loggerFactory ??= NullLoggerFactory.Instance;
        _registry = registry;
        _logger = loggerFactory.CreateLogger<RegistryKeySnapshotSource>();
        _listenerLogger = loggerFactory.CreateLogger<RegistryChangeListener>();
        _time = timeProvider ?? TimeProvider.System;
        _fullSyncInterval = interval;
        _quota = quota;
    }

    /// <summary>A usage batch read the registry's change version: the next periodic check may use it.</summary>
    public void ObserveChangeVersion(long changeVersion)
    {
        lock (_observedGate)
        {
            _observedVersion = changeVersion;
            _observedAtTicks = _time.GetUtcNow().UtcTicks;
        }
    }

    /// <summary>
    /// The registry's change version: one a usage batch read within half an interval if it is not
    /// behind the version applied (an older one says nothing about what came after), else read now.
    /// </summary>
    private async Task<long> CurrentChangeVersionAsync(long applied, CancellationToken cancellationToken)
    {
        lock (_observedGate)
        {
            if (_observedVersion >= applied && _time.GetUtcNow().UtcTicks - _observedAtTicks < _fullSyncInterval.Ticks / 2)
            {
                return _observedVersion;
            }
        }

        return await _registry.GetChangeVersionAsync(cancellationToken);
    }

    public async IAsyncEnumerable<KeySnapshotChange> SubscribeAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Listen first, then read: a change committed in between is both in the read and notified,
        // never in neither.
        await using var listener = await RegistryChangeListener.StartAsync(_registry.Database, _listenerLogger, cancellationToken);
        var interner = new SnapshotInterner();
        var (reload, sent, budgeted, version) = await LoadAsync(interner, cancellationToken);
        interner.MarkLoaded();
        var comparisonsSinceFullRead = 0;
        yield return reload;

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        await using var notifications = listener.ReadAllAsync(stop.Token).GetAsyncEnumerator(stop.Token);
        var nextNotification = notifications.MoveNextAsync().AsTask();
        var nextFullSync = _time.GetUtcNow() + _fullSyncInterval;
        try
        {
            while (true)
            {
                var fullSyncDue = await FullSyncDueAsync(nextNotification, nextFullSync, stop.Token);
                cancellationToken.ThrowIfCancellationRequested();

                if (fullSyncDue)
                {
                    nextFullSync = _time.GetUtcNow() + _fullSyncInterval;
                    if (++comparisonsSinceFullRead < FullReadEvery && await CurrentChangeVersionAsync(version, cancellationToken) == version)
                    {
                        // Every change up to the version applied has been applied: nothing was missed.
                        await SeedRecordedSpendAsync(budgeted, cancellationToken);
                        yield return KeySnapshotChange.Heartbeat;
                        continue;
                    }

                    comparisonsSinceFullRead = 0;
                    var (changes, liveVersion) = await CompareAsync(sent, budgeted, interner, cancellationToken);
                    version = Math.Max(version, liveVersion);
                    if (changes.Count == 0)
                    {
                        yield return KeySnapshotChange.Heartbeat;
                        continue;
                    }

                    Log.Healed(_logger, changes.Count);
                    yield return KeySnapshotChange.Together(changes);
                    continue;
                }

                // Throws RegistryUnavailableException when the listener lost its connection.
                if (!await nextNotification)
                {
                    throw new RegistryUnavailableException("The registry change listener stopped.");
                }

                var notified = notifications.Current;
                nextNotification = notifications.MoveNextAsync().AsTask();
                if (notified.ChangeVersion <= version)
                {
                    continue;
                }

                RegistryKeySet? changed = await _registry.ListChangedSinceAsync(version, includeCredentials: true, cancellationToken);
                foreach (var record in changed.Keys)
                {
                    Track(budgeted, record);
                }

                await SeedRecordedSpendAsync(Budgets(changed.Keys.Where(record => record.State != VirtualKeyState.Tombstoned)), cancellationToken);
                var read = new List<KeySnapshotChange>(changed.Keys.Count);
                foreach (var record in changed.Keys)
                {
                    if (record.State == VirtualKeyState.Tombstoned)
                    {
                        if (sent.Remove(record.KeyId))
                        {
                            read.Add(KeySnapshotChange.Remove(record.KeyId));
                        }
                    }
                    else
                    {
                        sent[record.KeyId] = record.ChangeVersion;
                        read.Add(KeySnapshotChange.Upsert(RegistryEntryMapper.ToEntry(record, interner)));
                    }
                }

                // Everything one read found is served together, as one snapshot.
                if (read.Count > 0)
                {
                    yield return KeySnapshotChange.Together(read);
                }

                version = Math.Max(version, changed.ChangeVersion);
                changed = null; // the records, credentials included, are not kept until the next notification

                // Changed keys only add to the interner: start a fresh one before it holds many replaced
                // credentials (keys mapped from now on share with each other, not with the older ones).
                if (interner.HasOutgrownLoad)
                {
                    interner = new SnapshotInterner();
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await nextNotification;
            }
            catch (Exception)
            {
                // The pending read ends with the cancellation (or the lost connection already reported).
            }
        }
    }

    /// <summary>
    /// Every live key, mapped. The records, decrypted credentials and all, are dropped here: the iterator
    /// would otherwise keep them reachable for as long as it runs.
    /// </summary>
    private async Task<(KeySnapshotChange Reload, Dictionary<string, long> Sent, Dictionary<string, BudgetPeriodKind> Budgeted, long Version)> LoadAsync(
        SnapshotInterner interner,
        CancellationToken cancellationToken)
    {
        var all = await _registry.ListLiveKeysAsync(includeCredentials: true, cancellationToken);
        var sent = all.Keys.ToDictionary(record => record.KeyId, record => record.ChangeVersion, StringComparer.Ordinal);
        var budgeted = Budgets(all.Keys).ToDictionary(StringComparer.Ordinal);
        await SeedRecordedSpendAsync(budgeted, cancellationToken);
        Log.Loaded(_logger, sent.Count, all.ChangeVersion);
        var entries = new VirtualKeyEntry[all.Keys.Count];
        for (var i = 0; i < entries.Length; i++)
        {
            entries[i] = RegistryEntryMapper.ToEntry(all.Keys[i], interner);
        }

        return (KeySnapshotChange.Reload(entries), sent, budgeted, all.ChangeVersion);
    }

    /// <summary>
    /// The periodic comparison. The whole registry is read without credentials (nothing decrypted, one
    /// statement fewer); only when something differs is it read again with them, for the changed keys' entries.
    /// </summary>
    private async Task<(List<KeySnapshotChange> Changes, long Version)> CompareAsync(
        Dictionary<string, long> sent,
        Dictionary<string, BudgetPeriodKind> budgeted,
        SnapshotInterner interner,
        CancellationToken cancellationToken)
    {
        var live = await _registry.ListLiveKeysAsync(includeCredentials: false, cancellationToken);
        budgeted.Clear();
        foreach (var (keyId, period) in Budgets(live.Keys))
        {
            budgeted[keyId] = period;
        }

        await SeedRecordedSpendAsync(budgeted, cancellationToken);
        if (!Differs(live, sent))
        {
            return ([], live.ChangeVersion);
        }

        live = await _registry.ListLiveKeysAsync(includeCredentials: true, cancellationToken);
        return (Compare(live, sent, interner), live.ChangeVersion);
    }

    private static bool Differs(RegistryKeySet live, Dictionary<string, long> sent)
    {
        if (live.Keys.Count != sent.Count)
        {
            return true;
        }

        foreach (var record in live.Keys)
        {
            if (!sent.TryGetValue(record.KeyId, out var sentVersion) || sentVersion != record.ChangeVersion)
            {
                return true;
            }
        }

        return false;
    }

    private static IEnumerable<KeyValuePair<string, BudgetPeriodKind>> Budgets(IEnumerable<VirtualKeyRecord> records) =>
        records.Where(record => record.Config.Budget is not null).Select(record => KeyValuePair.Create(record.KeyId, record.Config.Budget!.Period));

    /// <summary>Keeps <paramref name="budgeted"/> in step with one changed record.</summary>
    private static void Track(Dictionary<string, BudgetPeriodKind> budgeted, VirtualKeyRecord record)
    {
        if (record.State != VirtualKeyState.Tombstoned && record.Config.Budget is { } budget)
        {
            budgeted[record.KeyId] = budget.Period;
        }
        else
        {
            budgeted.Remove(record.KeyId);
        }
    }

    /// <summary>Tells the quota store what the registry recorded for each budgeted key: one statement per budget period in use.</summary>
    private async Task SeedRecordedSpendAsync(IEnumerable<KeyValuePair<string, BudgetPeriodKind>> budgeted, CancellationToken cancellationToken)
    {
        if (_quota is null)
        {
            return;
        }

        var now = _time.GetUtcNow();
        foreach (var group in budgeted.GroupBy(pair => pair.Value))
        {
            var totals = await _registry.GetUsageAsync([.. group.Select(pair => pair.Key)], group.Key, now, cancellationToken);
            var period = RegistryEntryMapper.ToSidecar(group.Key);
            foreach (var (keyId, usage) in totals)
            {
                if (usage.CostUsd > 0m)
                {
                    _quota.ObserveRecordedSpend(keyId, period, usage.CostUsd);
                }
            }
        }
    }

    /// <summary>Waits for the next notification or the next full comparison, whichever comes first.</summary>
    private async Task<bool> FullSyncDueAsync(Task<bool> nextNotification, DateTimeOffset nextFullSync, CancellationToken cancellationToken)
    {
        var wait = nextFullSync - _time.GetUtcNow();
        if (wait <= TimeSpan.Zero)
        {
            return true;
        }

        using var delayStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(wait, _time, delayStop.Token);
        var first = await Task.WhenAny(nextNotification, delay);
        await delayStop.CancelAsync();
        return first != nextNotification;
    }

    /// <summary>What must be sent so the sidecar's snapshot equals <paramref name="live"/>; updates <paramref name="sent"/>.</summary>
    private static List<KeySnapshotChange> Compare(RegistryKeySet live, Dictionary<string, long> sent, SnapshotInterner interner)
    {
        var changes = new List<KeySnapshotChange>();
        var liveIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var record in live.Keys)
        {
            liveIds.Add(record.KeyId);
            if (!sent.TryGetValue(record.KeyId, out var sentVersion) || sentVersion != record.ChangeVersion)
            {
                sent[record.KeyId] = record.ChangeVersion;
                changes.Add(KeySnapshotChange.Upsert(RegistryEntryMapper.ToEntry(record, interner)));
            }
        }

        foreach (var keyId in sent.Keys.Where(keyId => !liveIds.Contains(keyId)).ToList())
        {
            sent.Remove(keyId);
            changes.Add(KeySnapshotChange.Remove(keyId));
        }

        return changes;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Loaded {Count} keys from the registry at change version {Version}")]
        public static partial void Loaded(ILogger logger, int count, long version);

        [LoggerMessage(2, LogLevel.Warning, "The periodic comparison with the registry found {Count} changes no notification announced")]
        public static partial void Healed(ILogger logger, int count);
    }
}
