using VirtualKeys.Registry.Quotas;

namespace VirtualKeys.Sidecar.Limits;

// The background work of a replica: its heartbeat (presence, liveness, clean-up of lapsed replicas and
// old windows) and the listener for other replicas' returns.
public sealed partial class SharedQuotaStore
{
    private async Task MaintainAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(MaintenanceTick, _time);
        do
        {
            var now = _time.GetUtcNow();
            try
            {
                if (HeartbeatIsDue(now))
                {
                    await SharedHeartbeatAsync(HeartbeatIsDue).WaitAsync(stopping);
                }

                if (!_degraded)
                {
                    await ReturnIdleAsync(now, stopping);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                MarkUnavailable(ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stopping));
    }

    /// <summary>
    /// Clears "used up" for the keys other replicas give leases back for, so this replica asks again
    /// then and not at every refused request. While not listening (PostgreSQL away, or between
    /// reconnections) nothing clears it: a window's capacity given back meanwhile is used by the
    /// replicas that ask next, and every used-up mark is cleared when listening resumes.
    /// </summary>
    private async Task ListenForReturnsAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await using var listener = await _ledger.ListenForReturnsAsync(ReplicaId, stopping);
                foreach (var account in _accounts.Values)
                {
                    ClearExhausted(account);
                }

                await foreach (var keyId in listener.ReadAllAsync(stopping))
                {
                    if (_accounts.TryGetValue(keyId, out var account))
                    {
                        ClearExhausted(account);
                    }
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.ListenFailed(_logger, ex.GetType().Name, ex.Message, ListenRetry);
            }

            try
            {
                await Task.Delay(ListenRetry, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// This replica's presence had lapsed: another replica's heartbeat may have given its dollar leases
    /// back to the pools meanwhile (migration 0012). Each is asked about at its key's next admission,
    /// whose grant says what of it is still this replica's; until then nothing is spent from it. (The
    /// first heartbeat of a replica that was never present finds nothing to doubt: its leases are too
    /// recent to have been taken back.)
    /// </summary>
    private void DoubtBudgetLeases(DateTimeOffset now)
    {
        foreach (var account in _accounts.Values)
        {
            lock (account.Gate)
            {
                if (MayHaveLostLease(account, now))
                {
                    account.DoubtBudgetLease();
                }
            }
        }
    }

    /// <summary>
    /// This replica holds dollars of the key's budget and its last grant is older than half the replica
    /// TTL: the ledger reclaims a lease only once its last grant is older than the TTL (a reclaim before
    /// that grant would have shown in it), so a lease granted since cannot be lost yet.
    /// </summary>
    private bool MayHaveLostLease(Account account, DateTimeOffset now) =>
        account.LeaseHeld > 0m && now.UtcTicks - account.BudgetGrantedTicks >= _options.ReplicaTtl.Ticks / 2;

    private static void ClearExhausted(Account account)
    {
        lock (account.Gate)
        {
            account.RequestsExhaustedUntil = 0;
            account.TokensExhaustedUntil = 0;
            account.BudgetExhaustedUntil = 0;
        }
    }

    /// <summary>
    /// Whether the others must know this replica alive: it admitted a limited key lately (its outage
    /// share counts the live replicas), holds parallel slots (which count only while it is alive), or
    /// holds dollars of a budget (requests in flight longer than the TTL, or a lease it could not give
    /// back): a lapsed replica's dollar leases go back to the pool (migration 0012).
    /// </summary>
    private bool NeedsLiveness(DateTimeOffset now)
    {
        if (Volatile.Read(ref _lastLimitedAdmissionTicks) >= (now - _options.ReplicaTtl).UtcTicks)
        {
            return true;
        }

        foreach (var account in _accounts.Values)
        {
            if (Volatile.Read(ref account.SlotsHeld) > 0)
            {
                return true;
            }

            lock (account.Gate)
            {
                if (account.LeaseHeld > 0m)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// Whether the loop sends a heartbeat: it probes PostgreSQL while degraded; otherwise grants and
    /// usage batches refresh the presence too (a busy replica sends no heartbeat for that), and the
    /// heartbeat still forgets lapsed replicas and old windows every <see cref="CleanupInterval"/>.
    /// </summary>
    private bool HeartbeatIsDue(DateTimeOffset now) =>
        _degraded || (NeedsLiveness(now) && (PresenceAge(now) >= _options.HeartbeatInterval || CleanupIsDue(now)));

    /// <summary>The others may have taken this replica for dead: its presence was last refreshed half a <see cref="QuotaOptions.ReplicaTtl"/> ago.</summary>
    private bool PresenceIsStale(DateTimeOffset now) => PresenceAge(now) >= _options.ReplicaTtl / 2;

    /// <summary>The last heartbeat, whoever asked for it (the loop, or a slot grant), forgot dead replicas and old windows <see cref="CleanupInterval"/> ago.</summary>
    private bool CleanupIsDue(DateTimeOffset now) => now.UtcTicks - Volatile.Read(ref _lastHeartbeatTicks) >= CleanupInterval.Ticks;

    /// <summary>How long ago a heartbeat or a grant last refreshed this replica's presence.</summary>
    private TimeSpan PresenceAge(DateTimeOffset now) => TimeSpan.FromTicks(now.UtcTicks - Volatile.Read(ref _lastPresenceTicks));

    private void MarkPresent(DateTimeOffset at) => AdvanceTo(ref _lastPresenceTicks, at);

    /// <summary>Moves a time forward only: grants and usage batches answer out of order.</summary>
    private static void AdvanceTo(ref long ticks, DateTimeOffset at)
    {
        var seen = Volatile.Read(ref ticks);
        while (at.UtcTicks > seen)
        {
            var previous = Interlocked.CompareExchange(ref ticks, at.UtcTicks, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }

    /// <summary>
    /// One heartbeat at a time: a caller that finds one in flight waits for that one, and one that
    /// finds none asks <paramref name="isDue"/> again, since a heartbeat may have ended between its
    /// own look and now (the slot grant and the loop would otherwise send two back to back).
    /// </summary>
    private Task SharedHeartbeatAsync(Func<DateTimeOffset, bool> isDue)
    {
        lock (_heartbeatGate)
        {
            if (_heartbeat is not { IsCompleted: false })
            {
                var now = _time.GetUtcNow();
                if (!isDue(now))
                {
                    return Task.CompletedTask;
                }

                _heartbeat = HeartbeatAsync(now, _stopping.Token);
            }

            return _heartbeat;
        }
    }

    private async Task HeartbeatAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        QuotaHeartbeat heartbeat;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.RefillTimeout);
            heartbeat = await _ledger.HeartbeatAsync(ReplicaId, now, _options.ReplicaTtl, timeout.Token);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            MarkUnavailable(ex);
            return;
        }

        _liveReplicas = Math.Max(1, heartbeat.LiveReplicas);
        var wasPresent = Volatile.Read(ref _lastPresenceTicks) > 0;
        MarkPresent(now);
        AdvanceTo(ref _lastHeartbeatTicks, now);
        if (heartbeat.Rejoined && wasPresent)
        {
            DoubtBudgetLeases(now);
        }

        if (heartbeat.Rejoined)
        {
            // The others stopped counting this replica's slots and PostgreSQL dropped them: start over.
            Interlocked.Increment(ref _slotEpoch);
            foreach (var account in _accounts.Values)
            {
                lock (account.Gate)
                {
                    account.SlotsHeld = 0;
                }
            }
        }

        MarkAvailable();
    }
}
