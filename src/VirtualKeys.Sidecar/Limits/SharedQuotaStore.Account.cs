using VirtualKeys.Registry.Quotas;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Limits;

// The per-key state the store admits from, and one refill of it.
public sealed partial class SharedQuotaStore
{
    /// <summary>One refill: the grant request and what it needs to apply or undo itself.</summary>
    private sealed class Refill(QuotaGrantRequest request, long minute, DateTimeOffset periodStart, int slotEpoch)
    {
        public QuotaGrantRequest Request { get; } = request;

        public long Minute { get; } = minute;

        public DateTimeOffset PeriodStart { get; } = periodStart;

        public int SlotEpoch { get; set; } = slotEpoch;

        public long RequestsCharge { get; set; }

        public long TokensCharge { get; set; }

        public decimal BudgetCharge { get; set; }
    }

    /// <summary>One key's leases and local counters; every field is guarded by <see cref="Gate"/>.</summary>
    private sealed class Account(string keyId)
    {
        public readonly Lock Gate = new();
        public readonly string KeyId = keyId;
        public long Minute;

        /// <summary>Leased and not yet used in <see cref="Minute"/>; negative when use went beyond the lease (to be charged).</summary>
        public long RequestsLease;
        public long TokensLease;
        public long RequestsUsed;
        public long TokensUsed;
        public int InFlight;
        public int SlotsHeld;
        public BudgetPeriod Period = BudgetPeriod.Total;
        public DateTimeOffset PeriodStart = DateTimeOffset.MinValue;
        public DateTimeOffset? PeriodEnd;
        public decimal? BudgetCap;
        public decimal BudgetLease;

        /// <summary>
        /// In-flight reservations beyond the lease they were admitted from (part of a negative
        /// <see cref="BudgetLease"/>): asked of the pool by the next refill, which grants them only
        /// within the cap, but never charged to it as spend. Charged, they would come back to the lease
        /// when the request settles for less, and be spendable past the cap.
        /// </summary>
        public decimal BudgetOverdraft;
        public decimal? BudgetRemaining;

        /// <summary>
        /// The estimates reserved by this period's requests in flight, wherever they came from (the lease
        /// or beyond it). With <see cref="BudgetLease"/> it makes what of the leases this replica has not
        /// settled yet (<see cref="LeaseHeld"/>), which every grant and return tells the ledger.
        /// </summary>
        public decimal BudgetReserved;

        /// <summary>
        /// What of the dollars leased to this replica in the period (and the charges it paid) it has not
        /// settled as spend: the unused lease plus what is reserved in flight. The ledger records it per
        /// replica and gives it back to the pool if this replica lapses (migration 0012).
        /// </summary>
        public decimal LeaseHeld => LeaseHeldAfter(0m);

        /// <summary>
        /// <see cref="LeaseHeld"/> once <paramref name="change"/> dollars have moved between the lease and
        /// the pool (a return takes them off, a charge of spend beyond the lease adds them): what a grant
        /// or return that moves them tells the ledger this replica holds.
        /// </summary>
        public decimal LeaseHeldAfter(decimal change) => Math.Max(0m, BudgetLease + change + BudgetReserved);

        /// <summary>
        /// This replica was taken for dead while it held a dollar lease, or may have been (cut off from
        /// PostgreSQL past half the replica TTL), so the ledger may have given the lease back to the pool:
        /// the next admission asks the ledger (a grant, which says whether the lease is still this
        /// replica's) before it spends from it. While PostgreSQL stays away, what the lease held then
        /// (<see cref="BudgetDoubted"/>) does not count; this replica admits from its share alone.
        /// </summary>
        public bool BudgetUnverified;

        /// <summary>
        /// A return of dollars from the lease was lost on its way (<see cref="QuotaOutcomeUnknownException"/>):
        /// the ledger may have them back, or may still count them as this replica's. They are in the lease
        /// again, doubted (<see cref="BudgetUnverified"/>), and not given back before a grant has said what
        /// of the lease is this replica's: sent again, the return would give back the reservations in
        /// flight that the ledger's row kept, had the first one gone through.
        /// </summary>
        public bool BudgetReturnInDoubt;

        /// <summary>
        /// A return of parallel slots was lost on its way: the ledger may still count for this replica slots
        /// it gave up. The key's next return says what it holds (<see cref="QuotaReturn.SlotsKept"/>), even
        /// with no slot to give back, and the ledger's count comes down to that.
        /// </summary>
        public bool SlotsInDoubt;

        /// <summary>The clock of the last grant for the budget: the ledger's lease row is that fresh (its seen_at).</summary>
        public long BudgetGrantedTicks;

        /// <summary>
        /// What of the lease this replica held when it was doubted (<see cref="BudgetUnverified"/>): the
        /// unused lease and the reservations in flight, as the ledger's row counts them. Spend since,
        /// and those requests as they settle, take the lease below it.
        /// </summary>
        public decimal BudgetDoubted;

        /// <summary>The lease may have been given back to the pool: see <see cref="BudgetUnverified"/>.</summary>
        public void DoubtBudgetLease()
        {
            if (!BudgetUnverified)
            {
                BudgetUnverified = true;
                BudgetDoubted = LeaseHeld;
            }
        }

        /// <summary>
        /// A grant for the budget answered (a refill, or one charging debts): the lease gains what it gave
        /// and drops what this replica said it held that the ledger no longer counts as its own (given
        /// back to the pool while this replica was taken for dead, migration 0012; what was spent since
        /// then comes out of what it holds now, or is charged). The lease is verified and as fresh as the grant.
        /// </summary>
        public void BudgetGranted(QuotaBudgetAsk ask, QuotaGrant grant, DateTimeOffset at)
        {
            var forfeited = ask.Held is { } held && grant.BudgetKeptUsd is { } kept ? Math.Max(0m, held - kept) : 0m;
            BudgetLease += grant.BudgetUsd - forfeited;
            BudgetVerified();
            BudgetGrantedTicks = Math.Max(BudgetGrantedTicks, at.UtcTicks);
        }

        /// <summary>The ledger said what of the lease is this replica's, or took it back as given: nothing is left to doubt.</summary>
        public void BudgetVerified()
        {
            BudgetUnverified = false;
            BudgetReturnInDoubt = false;
            BudgetDoubted = 0m;
        }

        /// <summary>Spend beyond the lease, to be charged to the pool: what in-flight reservations do not explain of a negative lease.</summary>
        public decimal BudgetDebt => Math.Max(0m, -(BudgetLease + BudgetOverdraft));
        public decimal Spent;
        public decimal Reserved;

        /// <summary>What this replica's settled requests cost in the period (a part of <see cref="Spent"/> until the registry's figure replaces it).</summary>
        public decimal OwnSettled;

        /// <summary>
        /// <see cref="OwnSettled"/> when the registry's recorded spend last replaced <see cref="Spent"/>: of
        /// this replica's use, at most this much may be missing from the registry's figure (not flushed yet).
        /// </summary>
        public decimal OwnSettledBeforeRecorded;
        public long LastAdmissionTicks;
        public long RequestsExhaustedUntil;
        public long TokensExhaustedUntil;
        public long BudgetExhaustedUntil;
        public long SlotsExhaustedUntil;
        public Task? Refill;

        /// <summary>What the admissions waiting for a refill need, so the next refill asks for all of it.</summary>
        public long WaitingRequests;
        public long WaitingTokens;
        public decimal WaitingCost;

        /// <summary>Requests (refused ones included) and estimated tokens offered in <see cref="DemandSecond"/> and the second before.</summary>
        public long DemandSecond;
        public long RequestsOffered;
        public long RequestsOfferedBefore;
        public long TokensOffered;
        public long TokensOfferedBefore;

        /// <summary>This replica's demand for the key: the busier of the current and the previous second.</summary>
        public long RequestsPerSecond => Math.Max(RequestsOffered, RequestsOfferedBefore);

        public long TokensPerSecond => Math.Max(TokensOffered, TokensOfferedBefore);

        public void Offer(long second, long tokens)
        {
            if (second != DemandSecond)
            {
                var follows = second == DemandSecond + 1;
                RequestsOfferedBefore = follows ? RequestsOffered : 0;
                TokensOfferedBefore = follows ? TokensOffered : 0;
                RequestsOffered = 0;
                TokensOffered = 0;
                DemandSecond = second;
            }

            RequestsOffered++;
            TokensOffered += tokens;
        }

        /// <summary>A recent grant came back short: the shared counter is used up, so do not ask again yet.</summary>
        public bool IsExhausted(QuotaRefusalReason reason, long nowTicks) => reason switch
        {
            QuotaRefusalReason.RequestsPerMinute => nowTicks < RequestsExhaustedUntil,
            QuotaRefusalReason.TokensPerMinute => nowTicks < TokensExhaustedUntil,
            QuotaRefusalReason.Budget => nowTicks < BudgetExhaustedUntil,
            QuotaRefusalReason.ParallelRequests => nowTicks < SlotsExhaustedUntil,
            _ => false,
        };

        public void Roll(long minute, BudgetPeriod period, DateTimeOffset now)
        {
            if (minute != Minute)
            {
                Minute = minute;
                RequestsLease = 0;
                TokensLease = 0;
                RequestsUsed = 0;
                TokensUsed = 0;
                RequestsExhaustedUntil = 0;
                TokensExhaustedUntil = 0;
            }

            if (period == Period && (PeriodEnd is null || now < PeriodEnd.Value))
            {
                return;
            }

            var start = BudgetPeriods.Start(period, now);
            if (start != PeriodStart)
            {
                Spent = 0m;
                OwnSettled = 0m;
                OwnSettledBeforeRecorded = 0m;
                BudgetLease = 0m;
                BudgetOverdraft = 0m;
                BudgetReserved = 0m;
                BudgetVerified();
                BudgetRemaining = null;
                BudgetExhaustedUntil = 0;
            }

            Period = period;
            PeriodStart = start;
            PeriodEnd = BudgetPeriods.NextStart(period, now);
        }
    }
}
