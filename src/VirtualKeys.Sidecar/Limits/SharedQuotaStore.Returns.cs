using VirtualKeys.Registry.Quotas;
using RegistryBudgetPeriod = VirtualKeys.Registry.Usage.BudgetPeriod;

namespace VirtualKeys.Sidecar.Limits;

// Leases going back to the shared counters: the unused part of idle keys' leases (or all of them at
// shutdown), and use made beyond a lease charged as a debt.
public sealed partial class SharedQuotaStore
{
    /// <summary>
    /// The background loop's pass over idle keys, bounded by <see cref="QuotaOptions.RefillTimeout"/>: the
    /// loop heartbeats only between passes, and a return that hangs (its statement waiting for a row
    /// another transaction holds, or a server that stalls) would otherwise hold the heartbeat up until
    /// this replica doubts its own leases and the others take it for dead. The key whose return is cut
    /// short keeps its leases, and the next pass gives them back; if the cancellation went unanswered,
    /// the return's outcome is unknown and the key keeps only what cannot be counted twice (<see cref="KeepInDoubt"/>).
    /// </summary>
    private Task ReturnIdleAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        GiveBackAsync(now, everything: false, _options.RefillTimeout, cancellationToken);

    /// <summary>Returns unused leases (of idle keys, or all) and charges use made beyond them.</summary>
    /// <param name="timeout">How long the pass may take (<see cref="Timeout.InfiniteTimeSpan"/>: as long as <paramref name="cancellationToken"/> lets it).</param>
    private async Task GiveBackAsync(DateTimeOffset now, bool everything, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var minute = MinuteOf(now);
        var windowStart = WindowStartOf(minute);
        var idleBefore = (now - _options.IdleReturnAfter).UtcTicks;
        foreach (var account in _accounts.Values)
        {
            if (deadline.IsCancellationRequested)
            {
                return;
            }

            QuotaReturn? leftover = null;
            Refill? debts = null;
            TaskCompletionSource? busy = null;
            lock (account.Gate)
            {
                account.Roll(minute, account.Period, now);
                if (account.Refill is not null || (!everything && account.LastAdmissionTicks > idleBefore))
                {
                    continue;
                }

                leftover = TakeLeftover(account, windowStart);
                debts = TakeDebts(account, now);
                if (leftover is null && debts is null)
                {
                    continue;
                }

                // Stands for a refill while the return is on its way: the key's next grant waits for it,
                // so the ledger hears what this replica holds in the order it changed (migration 0012).
                busy = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                account.Refill = busy.Task;
            }

            bool sent;
            try
            {
                sent = await GiveBackAsync(account, leftover, debts, minute, deadline.Token, cancellationToken);
            }
            finally
            {
                lock (account.Gate)
                {
                    account.Refill = null;
                }

                busy.SetResult();
            }

            if (!sent)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Sends one key's leftover and debts; false when that failed or the pass's <paramref name="deadline"/>
    /// cut it short, and the key keeps what was not sent (see <see cref="KeepInDoubt"/> for a return
    /// whose outcome is unknown).
    /// </summary>
    private async Task<bool> GiveBackAsync(Account account, QuotaReturn? leftover, Refill? debts, long minute, CancellationToken deadline, CancellationToken cancellationToken)
    {
        if (leftover is not null)
        {
            try
            {
                await _ledger.ReturnAsync(leftover, deadline);
                lock (account.Gate)
                {
                    if (leftover.SlotsKept is not null)
                    {
                        account.SlotsInDoubt = false;
                    }

                    // What this replica holds now (in flight) is leased to it again if the lease had
                    // been taken back (migration 0012): nothing is left to doubt.
                    if (leftover.BudgetPeriodStart is { } periodStart && leftover.BudgetUsd > 0m && account.PeriodStart == periodStart)
                    {
                        account.BudgetVerified();
                    }
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                lock (account.Gate)
                {
                    if (ex is QuotaOutcomeUnknownException)
                    {
                        KeepInDoubt(account, leftover);
                    }
                    else
                    {
                        Restore(account, leftover, minute);
                    }

                    // Not sent: the debts go after the leftover.
                    if (debts is not null)
                    {
                        UndoCharges(account, debts);
                    }
                }

                NotSent(ex, deadline);
                return false;
            }
        }

        if (debts is not null)
        {
            try
            {
                var grant = await _ledger.GrantAsync(debts.Request, _options.ReplicaTtl, deadline);
                if (debts.Request.Budget is { } budget)
                {
                    lock (account.Gate)
                    {
                        if (account.PeriodStart == debts.PeriodStart)
                        {
                            account.BudgetGranted(budget, grant, debts.Request.Now);
                        }
                    }
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // A charge whose answer was lost may have gone through: charged again at the next
                // grant, the use counts twice (the key is refused early, never admitted beyond its
                // limit); left uncharged, it might count nowhere. Refills' charges are undone alike.
                lock (account.Gate)
                {
                    UndoCharges(account, debts);
                }

                NotSent(ex, deadline);
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// A return or a charge failed: PostgreSQL is away, unless the pass's deadline cut it short. A
    /// statement the deadline cut is cancelled in PostgreSQL, which rolls its batch back, so the key
    /// rightly keeps what it tried to send; a cancellation that was not answered leaves the outcome
    /// unknown, as a connection lost in the middle of a return does (the ledger says which, <see cref="QuotaOutcomeUnknownException"/>).
    /// That the statement took long says little about PostgreSQL (another transaction may hold a row
    /// it needs): the heartbeat and the refills, which wait as long, tell whether it is away.
    /// </summary>
    private void NotSent(Exception exception, CancellationToken deadline)
    {
        if (!deadline.IsCancellationRequested)
        {
            MarkUnavailable(exception);
        }
    }

    /// <summary>
    /// A return whose outcome is unknown: PostgreSQL may have applied it (the commit went through and
    /// its answer was lost) or not. Kept as well as given back, the leftover would be admitted from here
    /// while another replica is granted it, so nothing of it is kept that the ledger could count twice:
    /// <list type="bullet">
    /// <item>Requests and tokens are forfeited: at worst the pool keeps counting them until the window ends.</item>
    /// <item>Slots are forfeited too; the key's next return says how many this replica holds, which
    /// frees what the ledger still counts of them (<see cref="Account.SlotsInDoubt"/>). Until then, or
    /// until this replica leaves or lapses, the key may run fewer requests in parallel than its limit.</item>
    /// <item>Dollars go back into the lease, doubted: nothing is spent from them, nor given back, until a
    /// grant has said what of the lease the ledger still counts as this replica's (<see cref="Account.BudgetReturnInDoubt"/>);
    /// the key's next admission, or the next pass over it while it is idle, asks. A lease row is exact
    /// where a window's counter is not, so the budget loses nothing.</item>
    /// </list>
    /// </summary>
    private static void KeepInDoubt(Account account, QuotaReturn leftover)
    {
        if (leftover.Slots > 0 || leftover.SlotsKept is not null)
        {
            account.SlotsInDoubt = true;
        }

        if (leftover.BudgetPeriodStart is { } periodStart && leftover.BudgetUsd > 0m && account.PeriodStart == periodStart)
        {
            account.BudgetLease += leftover.BudgetUsd;
            account.DoubtBudgetLease();
            account.BudgetReturnInDoubt = true;
        }
    }

    private QuotaReturn? TakeLeftover(Account account, DateTimeOffset windowStart)
    {
        var requests = Math.Max(0, account.RequestsLease);
        var tokens = Math.Max(0, account.TokensLease);
        // A lease whose last return was lost is asked about first (TakeDebts), then given back.
        var dollars = account.BudgetReturnInDoubt ? 0m : Math.Max(0m, account.BudgetLease);
        var slots = Math.Max(0, account.SlotsHeld - account.InFlight);
        var leftover = new QuotaReturn(account.KeyId, ReplicaId, windowStart)
        {
            Requests = requests,
            Tokens = tokens,
            BudgetPeriod = ToRegistry(account.Period),
            BudgetPeriodStart = dollars > 0m ? RegistryBudgetPeriod.StartOf(ToRegistry(account.Period), account.PeriodStart) : null,
            BudgetUsd = dollars,
            BudgetHeld = account.LeaseHeldAfter(-dollars),
            Slots = slots,
            SlotsKept = slots > 0 || account.SlotsInDoubt ? account.SlotsHeld - slots : null,
        };
        if (leftover.IsEmpty)
        {
            return null;
        }

        account.RequestsLease -= requests;
        account.TokensLease -= tokens;
        account.BudgetLease -= dollars;
        account.SlotsHeld -= slots;
        return leftover;
    }

    private static void Restore(Account account, QuotaReturn leftover, long minute)
    {
        if (account.Minute == minute)
        {
            account.RequestsLease += leftover.Requests;
            account.TokensLease += leftover.Tokens;
        }

        account.BudgetLease += leftover.BudgetUsd;
        account.SlotsHeld += leftover.Slots;
    }

    /// <summary>
    /// Use beyond the leases (negative leases) as a grant request that asks nothing and charges it. It
    /// also asks what of the dollar lease is this replica's when a return of it was lost (<see cref="Account.BudgetReturnInDoubt"/>),
    /// so that an idle key's next pass gives back what the ledger still counts.
    /// </summary>
    private Refill? TakeDebts(Account account, DateTimeOffset now)
    {
        var requests = Math.Max(0, -account.RequestsLease);
        var tokens = Math.Max(0, -account.TokensLease);
        var dollars = account.BudgetDebt;
        var askBudget = (dollars > 0m || account.BudgetReturnInDoubt) && account.BudgetCap is not null;
        if (requests == 0 && tokens == 0 && !askBudget)
        {
            return null;
        }

        var request = new QuotaGrantRequest(account.KeyId, ReplicaId, now)
        {
            Requests = requests > 0 ? new QuotaWindowAsk(long.MaxValue, 0, requests) : null,
            Tokens = tokens > 0 ? new QuotaWindowAsk(long.MaxValue, 0, tokens) : null,
            Budget = askBudget && account.BudgetCap is { } cap
                ? new QuotaBudgetAsk(ToRegistry(account.Period), cap, 0m, dollars) { Held = account.LeaseHeldAfter(dollars) }
                : null,
        };
        var plan = new Refill(request, account.Minute, account.PeriodStart, Volatile.Read(ref _slotEpoch))
        {
            RequestsCharge = requests,
            TokensCharge = tokens,
            BudgetCharge = request.Budget is null ? 0m : dollars,
        };
        account.RequestsLease += plan.RequestsCharge;
        account.TokensLease += plan.TokensCharge;
        account.BudgetLease += plan.BudgetCharge;
        return plan;
    }
}
