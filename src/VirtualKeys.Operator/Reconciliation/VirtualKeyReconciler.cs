using System.Globalization;
using System.Text;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VirtualKeys.Model;
using VirtualKeys.Model.Validation;
using VirtualKeys.Operator.Api;
using VirtualKeys.Operator.Events;
using VirtualKeys.Operator.Observability;
using VirtualKeys.Operator.Runtime.Controllers;
using VirtualKeys.Operator.Runtime.Informers;
using VirtualKeys.Operator.Usage;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Tokens;

namespace VirtualKeys.Operator.Reconciliation;

/// <summary>
/// Drives one VirtualKey's world toward its spec: finalizer, validation, provider Secrets, token
/// Secret, registry row, status. Each step reads what exists and writes only what differs, so the
/// reconcile can stop at any line and the next one (in this process or the next) picks up from
/// what the API server and the registry hold. An idle resync writes nothing anywhere.
/// </summary>
public sealed partial class VirtualKeyReconciler(
    IResourceCache<VirtualKey> keys,
    IResourceCache<V1Secret> secrets,
    VirtualKeyRegistry registry,
    VirtualKeyApi api,
    EventRecorder events,
    RegistryWriteCache registryWrites,
    RecentWrites<VirtualKey> writtenKeys,
    RecentWrites<V1Secret> writtenSecrets,
    OperatorMetrics metrics,
    IExternalCallObserver observer,
    IOptions<VirtualKeyReconcilerOptions> options,
    TimeProvider timeProvider,
    ILogger<VirtualKeyReconciler> logger) : IReconciler<VirtualKey>
{
    /// <summary>The Warning Event's reason when a token Secret held a token its key's rotation had retired.</summary>
    public const string RetiredTokenReplaced = "RetiredTokenReplaced";

    /// <summary>Longest wait asked of the queue for an expiry; a resync or a change comes sooner anyway.</summary>
    private static readonly TimeSpan MaxRequeue = TimeSpan.FromHours(12);

    public async Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken cancellationToken)
    {
        observer.BeforeCall("reconcile");
        var key = writtenKeys.Freshest(request.Namespace, request.Name, keys.Get(request));
        if (key is null)
        {
            return ReconcileResult.Done;
        }

        if (key.Metadata.DeletionTimestamp is not null)
        {
            await FinalizeAsync(key, cancellationToken);
            return ReconcileResult.Done;
        }

        if (!HasFinalizer(key))
        {
            var replaced = key.Metadata.ResourceVersion;
            key = await api.AddFinalizerAsync(key, cancellationToken);
            writtenKeys.Wrote(replaced, key);
        }

        // Set once the spec is known not to register whole: a registry outage is then reported
        // beside that problem, which stays what the user has to fix.
        ReconcileOutcome? problem = null;
        try
        {
            var problems = VirtualKeyValidator.Validate(key);
            if (problems.Count > 0)
            {
                // No requeue: only an edit of the spec (a new generation) can fix it.
                problem = ReconcileOutcome.NotReady(ConditionReasons.InvalidSpec, VirtualKeyValidator.Format(problems));
                return await RestrictAsync(key, problem, tokens: null, cancellationToken);
            }

            var (credentials, secretProblem) = ResolveCredentials(key);
            if (secretProblem is not null)
            {
                // No requeue: the Secret watch reconciles this key when the Secret appears or changes.
                problem = secretProblem;
                return await RestrictAsync(key, problem, await TokensWhileHeldBackAsync(key, cancellationToken), cancellationToken);
            }

            (VirtualKeyToken? Token, DateTimeOffset IssuedAt, ReconcileOutcome? Problem) ensured;
            try
            {
                ensured = await EnsureTokenAsync(key, cancellationToken);
            }
            catch (TokenSecretRefusedException e)
            {
                // Thrown on once the status says so, for the queue's backoff: a permission granted or
                // a policy lifted comes with no event that would reconcile the key again.
                problem = ReconcileOutcome.NotReady(ConditionReasons.TokenSecretRefused, e.Message);
                await RestrictAsync(key, problem, tokens: null, cancellationToken);
                throw;
            }

            var (token, issuedAt, tokenProblem) = ensured;
            if (tokenProblem is not null)
            {
                problem = tokenProblem;
                return await RestrictAsync(key, problem, tokens: null, cancellationToken);
            }

            if (await RegisterAsync(key, credentials, token!, issuedAt, cancellationToken) is { } revoked)
            {
                problem = revoked;
                return await RestrictAsync(key, problem, tokens: null, cancellationToken);
            }
        }
        catch (RegistryUnavailableException e)
        {
            Log.RegistryUnavailable(logger, key.Metadata.NamespaceProperty, key.Metadata.Name, e.Message);
            var unavailable = problem is null
                ? ReconcileOutcome.NotReady(ConditionReasons.RegistryUnavailable, e.Message)
                : problem with { Message = $"{problem.Message}; what the spec takes away from the key meanwhile (spec.suspended, an earlier spec.expiresAt, a token rotation) is not in effect yet: {e.Message}" };
            await UpdateStatusAsync(key, unavailable, registered: false, cancellationToken);
            throw;
        }

        var (outcome, requeue) = Readiness(key);
        await UpdateStatusAsync(key, outcome, registered: true, cancellationToken);
        return requeue;
    }

    private static bool HasFinalizer(VirtualKey key) => key.Metadata.Finalizers?.Contains(WellKnown.Finalizer) == true;

    private async Task FinalizeAsync(VirtualKey key, CancellationToken cancellationToken)
    {
        if (!HasFinalizer(key))
        {
            return;
        }

        var identity = RegistryMapping.Identity(key);
        observer.BeforeCall("registry:tombstone");
        if (await registry.TombstoneAsync(identity, cancellationToken))
        {
            metrics.RegistryWrite("tombstone");
        }

        await api.RemoveFinalizerAsync(key, cancellationToken);
        registryWrites.Forget(key.Metadata.Uid);
        writtenKeys.Forget(key.Metadata.NamespaceProperty, key.Metadata.Name);

        // Garbage collection deletes the token Secret now that its owner goes: a key created again
        // under the same name must not find the one written for this one.
        writtenSecrets.Forget(key.Metadata.NamespaceProperty, key.GetTokenSecretName());
        if (key.Status?.TokenSecretName is { Length: > 0 } issued)
        {
            writtenSecrets.Forget(key.Metadata.NamespaceProperty, issued);
        }
        metrics.ForgetBudget(key.Metadata.NamespaceProperty, key.Metadata.Name);
        Log.Finalized(logger, key.Metadata.NamespaceProperty, key.Metadata.Name);
    }

    private (List<ProviderCredential> Credentials, ReconcileOutcome? Problem) ResolveCredentials(VirtualKey key)
    {
        var ns = key.Metadata.NamespaceProperty;
        var credentials = new List<ProviderCredential>();
        var notFound = new List<string>();
        var keyNotFound = new List<string>();
        for (var i = 0; i < key.Spec.Providers.Count; i++)
        {
            var provider = key.Spec.Providers[i];
            var reference = provider.SecretRef;
            var secret = secrets.Get(ns, reference.Name);
            if (secret is null)
            {
                notFound.Add($"Secret {ns}/{reference.Name} of spec.providers[{i}] ({provider.Name}) not found");
                continue;
            }

            if (SecretCacheTrim.OmitsData(secret))
            {
                keyNotFound.Add($"Secret {ns}/{reference.Name} of spec.providers[{i}] ({provider.Name}) is of type {secret.Type}, which the operator does not read provider keys from: put the key in an Opaque Secret");
                continue;
            }

            if (secret.Data?.TryGetValue(reference.Key, out var bytes) != true || bytes is null)
            {
                keyNotFound.Add($"Secret {ns}/{reference.Name} has no key '{reference.Key}' (spec.providers[{i}].secretRef.key of {provider.Name})");
                continue;
            }

            var value = Encoding.UTF8.GetString(bytes).Trim();
            if (value.Length == 0)
            {
                keyNotFound.Add($"key '{reference.Key}' of Secret {ns}/{reference.Name} (spec.providers[{i}] {provider.Name}) is empty");
                continue;
            }

            credentials.Add(new ProviderCredential(provider.Name, value));
        }

        if (notFound.Count > 0)
        {
            return (credentials, ReconcileOutcome.NotReady(ConditionReasons.SecretNotFound, string.Join("; ", notFound.Concat(keyNotFound))));
        }

        return keyNotFound.Count > 0
            ? (credentials, ReconcileOutcome.NotReady(ConditionReasons.SecretKeyNotFound, string.Join("; ", keyNotFound)))
            : (credentials, null);
    }

    private async Task<(VirtualKeyToken? Token, DateTimeOffset IssuedAt, ReconcileOutcome? Problem)> EnsureTokenAsync(VirtualKey key, CancellationToken cancellationToken)
    {
        var ns = key.Metadata.NamespaceProperty;
        var name = key.GetTokenSecretName();
        var keyId = VirtualKeyId.FromUid(key.Metadata.Uid);
        var requested = key.Metadata.Annotations?.TryGetValue(WellKnown.RotateTokenAnnotation, out var value) == true ? value : null;
        var now = timeProvider.GetUtcNow();

        var secret = writtenSecrets.Freshest(ns, name, secrets.Get(ns, name));
        if (secret is null)
        {
            var token = VirtualKeyToken.Generate(keyId);
            var created = await CallAsync("create", ns, name, () => api.CreateSecretAsync(TokenSecrets.Build(key, name, token, requested, now), cancellationToken));
            if (created is not null)
            {
                writtenSecrets.Wrote(null, created);
                Log.TokenIssued(logger, ns, key.Metadata.Name, name, keyId);
                return (token, TokenSecrets.IssuedAt(created), null);
            }

            // It exists after all (our cache lags, or another writer): use what is there.
            secret = await CallAsync("read", ns, name, () => api.ReadSecretAsync(ns, name, cancellationToken))
                ?? throw new InvalidOperationException($"Token Secret {ns}/{name} was reported to exist and then not found; retrying.");
        }

        if (!TokenSecrets.IsOwnedBy(secret, key))
        {
            if (TokenSecrets.IsControlledByAnother(secret, key) || !TokenSecrets.LooksOrphanedFrom(secret, key, keyId))
            {
                return (null, default, ReconcileOutcome.NotReady(
                    ConditionReasons.InvalidSpec,
                    $"spec.tokenSecretName: Secret {ns}/{name} exists and is not this VirtualKey's token Secret: delete it or set another spec.tokenSecretName"));
            }

            var replaced = secret.Metadata.ResourceVersion;
            var orphan = secret;
            secret = await CallAsync("patch", ns, name, () => api.PatchSecretOwnerAsync(orphan, TokenSecrets.Owner(key), cancellationToken));
            writtenSecrets.Wrote(replaced, secret);
        }

        var current = TokenSecrets.ReadToken(secret);
        var handled = TokenSecrets.HandledRotation(secret);
        var rotationAsked = !string.IsNullOrEmpty(requested) && !string.Equals(requested, handled, StringComparison.Ordinal);

        // A token the registry has set an end to was rotated out, however it came back into the
        // Secret: a switch of spec.tokenSecretName back to an earlier Secret, a restore from a backup,
        // a GitOps tool applying an old copy. Its clients would be refused: issue a new one, as for a
        // Secret deleted or edited out of shape. A token the registry does not know is this Secret's
        // own, written by an earlier attempt that failed before registering it (registry unavailable,
        // a conflict on the status write, a crash): keep it, or every retry would issue another and
        // retire a token clients may already have read. The registry is asked only about a token this
        // process did not register last, which an idle resync never meets.
        var switched = key.Status?.TokenSecretName is { Length: > 0 } previous && !string.Equals(previous, name, StringComparison.Ordinal);
        var retired = false;
        if (current is not null && current.KeyId == keyId && !rotationAsked)
        {
            var verdict = registryWrites.Issued(key.Metadata.Uid, current) ? TokenVerdict.Current : await JudgeTokenAsync(current, cancellationToken);
            if (verdict == TokenVerdict.KeyRevoked)
            {
                // Every token of a tombstoned key is retired: a new one would be refused as well.
                return (null, default, RevokedOutcome(key));
            }

            retired = verdict == TokenVerdict.Retired;
            if (!retired)
            {
                return (current, TokenSecrets.IssuedAt(secret), null);
            }
        }

        // A rotation request, a retired token, or a token that was edited out of shape: issue a new one.
        // The registry refuses the previous one after the grace period from the issue time recorded here.
        var fresh = VirtualKeyToken.Generate(keyId);
        var previousVersion = secret.Metadata.ResourceVersion;
        var replacement = TokenSecrets.WithToken(secret, fresh, rotationAsked ? requested : handled, now);
        var written = await CallAsync("update", ns, name, () => api.ReplaceSecretAsync(replacement, cancellationToken));
        writtenSecrets.Wrote(previousVersion, written);
        Log.TokenRotated(logger, ns, key.Metadata.Name, name, keyId);
        var grace = options.Value.TokenRotationGrace;
        if (retired && !switched)
        {
            // Nobody asked for this one: say why the Secret changed, and where the retired token came from.
            await events.RecordAsync(
                key,
                EventRecorder.Warning,
                RetiredTokenReplaced,
                $"Secret {ns}/{name} held a token that a rotation of this key had retired (restored from a backup, or an old copy applied again): issued a new token into it. The retired token stays refused; the token the Secret held before is refused after {grace}",
                cancellationToken);
        }
        else
        {
            await events.RecordAsync(
                key,
                EventRecorder.Normal,
                "TokenRotated",
                $"Issued a new token into Secret {ns}/{name}; the previous token is refused after {grace}",
                cancellationToken);
        }

        return (fresh, TokenSecrets.IssuedAt(written), null);
    }

    /// <summary>
    /// A call on the token Secret; a refusal a retry alone does not cure becomes a
    /// <see cref="TokenSecretRefusedException"/> that names the Secret.
    /// </summary>
    private static async Task<T> CallAsync<T>(string verb, string ns, string name, Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (HttpOperationException e) when (TokenSecretRefusedException.IsRefusal(e))
        {
            throw TokenSecretRefusedException.From(e, verb, ns, name);
        }
    }

    /// <summary>
    /// What the registry says of <paramref name="token"/>: retired when a rotation set it an end (in
    /// its grace period or past it), and whether its whole key is tombstoned.
    /// </summary>
    private async Task<TokenVerdict> JudgeTokenAsync(VirtualKeyToken token, CancellationToken cancellationToken)
    {
        observer.BeforeCall("registry:get");
        var record = await registry.GetByKeyIdAsync(token.KeyId, includeCredentials: false, cancellationToken);
        if (record?.State == VirtualKeyState.Tombstoned)
        {
            return TokenVerdict.KeyRevoked;
        }

        var hash = token.ComputeHash();
        return record?.Tokens.Any(t => t.NotAfter is not null && t.Hash.AsSpan().SequenceEqual(hash)) == true
            ? TokenVerdict.Retired
            : TokenVerdict.Current;
    }

    private static ReconcileOutcome RevokedOutcome(VirtualKey key) => ReconcileOutcome.NotReady(
        ConditionReasons.Revoked,
        $"The registry holds key id {VirtualKeyId.FromUid(key.Metadata.Uid)} as deleted, so its tokens are refused for good (this VirtualKey was brought back after its deletion, or another cluster's operator sharing the registry revoked it): delete the VirtualKey and create it again for a new key.");

    /// <summary>
    /// The token to keep registered while a provider Secret problem holds the spec back, so that a
    /// rotation asked meanwhile (a leaked token) still takes the old token away. Only for a key
    /// registered before: a key never registered has no token anyone could use, and gets its token
    /// Secret once its spec registers.
    /// </summary>
    private async Task<TokenChanges?> TokensWhileHeldBackAsync(VirtualKey key, CancellationToken cancellationToken)
    {
        if (key.Status?.KeyId != VirtualKeyId.FromUid(key.Metadata.Uid))
        {
            return null;
        }

        try
        {
            var (token, issuedAt, tokenProblem) = await EnsureTokenAsync(key, cancellationToken);
            return tokenProblem is null ? new TokenChanges([token!], issuedAt + options.Value.TokenRotationGrace) : null;
        }
        catch (TokenSecretRefusedException e)
        {
            // As for the token problems above: the provider Secret is what the status reports, and
            // the refusal is reported once that is fixed.
            Log.TokenSecretRefusedWhileHeldBack(logger, key.Metadata.NamespaceProperty, key.Metadata.Name, e.Message);
            return null;
        }
    }

    /// <summary>
    /// A spec that cannot be registered whole still takes away what it takes away: spec.suspended,
    /// an earlier spec.expiresAt and token changes reach the stored key at once (suspending a key
    /// while its provider Secret is gone is how an incident is stopped), while everything else,
    /// provider credentials included, stays as last registered until the spec registers again.
    /// The status keeps the problem's reason, and its message says what the key does meanwhile.
    /// </summary>
    /// <returns>A requeue at the stored expiry, so that the message then says the key expired.</returns>
    private async Task<ReconcileResult> RestrictAsync(VirtualKey key, ReconcileOutcome problem, TokenChanges? tokens, CancellationToken cancellationToken)
    {
        var spec = key.Spec;
        var uid = key.Metadata.Uid;
        var registeredBefore = key.Status?.KeyId == VirtualKeyId.FromUid(uid);
        if (!registeredBefore && !spec.Suspended && spec.ExpiresAt is null && tokens is null)
        {
            // Nothing registered to tell about, and nothing to take away: the registry is not asked.
            await UpdateStatusAsync(key, problem, registered: false, cancellationToken);
            return ReconcileResult.Done;
        }

        var restriction = new VirtualKeyRestriction(RegistryMapping.Identity(key), spec.Suspended, spec.ExpiresAt?.ToUniversalTime(), tokens);
        var digest = registryWrites.Digest(restriction);
        if (!registryWrites.IsCurrent(uid, digest, out var result))
        {
            observer.BeforeCall("registry:restrict");
            result = await registry.RestrictAsync(restriction, cancellationToken);
            if (result?.Changed == true)
            {
                metrics.RegistryWrite("restrict");
                Log.Restricted(logger, key.Metadata.NamespaceProperty, key.Metadata.Name, result.KeyId, result.State, result.ChangeVersion);
            }

            registryWrites.Applied(uid, digest, result, tokens);
        }

        var now = timeProvider.GetUtcNow();
        var meanwhile = result switch
        {
            null => "",
            { State: VirtualKeyState.Suspended } => "; meanwhile the registry keeps the key suspended: requests with it are refused",
            { ExpiresAt: { } expiresAt } when expiresAt <= now => $"; meanwhile the key has expired (at {Utc(expiresAt)}): its token is refused",
            { ExpiresAt: { } expiresAt } => $"; meanwhile the key is served as last registered, until it expires at {Utc(expiresAt)}",
            _ => "; meanwhile the key is served as last registered",
        };
        await UpdateStatusAsync(key, problem with { Message = problem.Message + meanwhile }, registered: tokens is not null && result is not null, cancellationToken);
        return result is { State: VirtualKeyState.Active, ExpiresAt: { } expiry } && expiry > now
            ? ReconcileResult.RequeueAfter(Min(expiry - now, MaxRequeue))
            : ReconcileResult.Done;

        static string Utc(DateTimeOffset at) => at.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture);
    }

    /// <returns>The problem when the registry holds the key as deleted; null when it is registered.</returns>
    private async Task<ReconcileOutcome?> RegisterAsync(VirtualKey key, List<ProviderCredential> credentials, VirtualKeyToken token, DateTimeOffset issuedAt, CancellationToken cancellationToken)
    {
        var upsert = new VirtualKeyUpsert(
            RegistryMapping.Identity(key),
            key.Metadata.Generation ?? 0,
            RegistryMapping.SpecFingerprint(key),
            RegistryMapping.Config(key),
            credentials,
            new TokenChanges([token], issuedAt + options.Value.TokenRotationGrace));
        var digest = registryWrites.Digest(upsert);
        if (registryWrites.IsCurrent(key.Metadata.Uid, digest))
        {
            return null;
        }

        observer.BeforeCall("registry:upsert");
        var result = await registry.UpsertAsync(upsert, cancellationToken);
        if (result.State == VirtualKeyState.Tombstoned)
        {
            registryWrites.Forget(key.Metadata.Uid);
            return RevokedOutcome(key);
        }

        if (result.Changed)
        {
            metrics.RegistryWrite("upsert");
            Log.Registered(logger, key.Metadata.NamespaceProperty, key.Metadata.Name, result.KeyId, result.ChangeVersion);
        }

        registryWrites.Applied(key.Metadata.Uid, digest, upsert.Tokens!);
        return null;
    }

    private (ReconcileOutcome Outcome, ReconcileResult Requeue) Readiness(VirtualKey key)
    {
        var now = timeProvider.GetUtcNow();
        var spec = key.Spec;
        if (spec.ExpiresAt is { } expiresAt && expiresAt <= now)
        {
            return (ReconcileOutcome.NotReady(
                ConditionReasons.Expired,
                $"The key expired at {expiresAt.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture)}: its token is refused. Move spec.expiresAt to use it again."), ReconcileResult.Done);
        }

        var requeue = spec.ExpiresAt is { } expiry
            ? ReconcileResult.RequeueAfter(Min(expiry - now, MaxRequeue))
            : ReconcileResult.Done;
        if (spec.Suspended)
        {
            return (ReconcileOutcome.NotReady(ConditionReasons.Suspended, "spec.suspended is true: requests with this key are refused."), requeue);
        }

        if (BudgetState.IsExhausted(key, now))
        {
            return (ReconcileOutcome.NotReady(ConditionReasons.BudgetExhausted, BudgetMessages.Exhausted(key, now)), requeue);
        }

        var keyId = VirtualKeyId.FromUid(key.Metadata.Uid);
        return (new ReconcileOutcome(true, ConditionReasons.Reconciled, $"Registered as key id {keyId}; its token is in Secret {key.Metadata.NamespaceProperty}/{key.GetTokenSecretName()}."), requeue);
    }

    private async Task UpdateStatusAsync(VirtualKey key, ReconcileOutcome outcome, bool registered, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var desired = StatusConditions.Copy(key.Status);
        desired.ObservedGeneration = key.Metadata.Generation;
        if (registered)
        {
            desired.KeyId = VirtualKeyId.FromUid(key.Metadata.Uid);
            desired.TokenSecretName = key.GetTokenSecretName();
        }

        var previous = StatusConditions.Find(key.Status, ConditionTypes.Ready);
        StatusConditions.Set(
            desired,
            ConditionTypes.Ready,
            outcome.Ready ? StatusConditions.True : StatusConditions.False,
            outcome.Reason,
            outcome.Message,
            key.Metadata.Generation,
            now);
        if (StatusConditions.Same(key.Status, desired))
        {
            return;
        }

        var replaced = key.Metadata.ResourceVersion;
        var written = await api.ReplaceStatusAsync(key, desired, cancellationToken);
        writtenKeys.Wrote(replaced, written);
        // News only: the same reason with the same message is not, and neither is an exhausted budget's
        // message, which follows the spend as requests in flight settle after the key ran out.
        if (previous?.Reason == outcome.Reason
            && (previous.Message == outcome.Message || outcome.Reason == ConditionReasons.BudgetExhausted))
        {
            return;
        }

        Log.ReadyChanged(logger, key.Metadata.NamespaceProperty, key.Metadata.Name, outcome.Ready, outcome.Reason);
        if (!outcome.Ready)
        {
            var type = outcome.Reason == ConditionReasons.Suspended ? EventRecorder.Normal : EventRecorder.Warning;
            await events.RecordAsync(written, type, outcome.Reason, outcome.Message, cancellationToken);
        }
        else if (previous is not null && previous.Status != StatusConditions.True)
        {
            // Only a recovery is news: a key that is Ready on creation says so in its status, which keeps creation at three writes.
            await events.RecordAsync(written, EventRecorder.Normal, outcome.Reason, outcome.Message, cancellationToken);
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private enum TokenVerdict
    {
        /// <summary>Registered, or unknown to the registry (this Secret's own, not registered yet).</summary>
        Current,

        /// <summary>A rotation set an end to it.</summary>
        Retired,

        /// <summary>The whole key is tombstoned.</summary>
        KeyRevoked,
    }

    private static partial class Log
    {
        [LoggerMessage(4001, LogLevel.Information, "VirtualKey {Namespace}/{Name}: issued a token into Secret {Secret} for key id {KeyId}")]
        public static partial void TokenIssued(ILogger logger, string @namespace, string name, string secret, string keyId);

        [LoggerMessage(4002, LogLevel.Information, "VirtualKey {Namespace}/{Name}: rotated the token in Secret {Secret} for key id {KeyId}")]
        public static partial void TokenRotated(ILogger logger, string @namespace, string name, string secret, string keyId);

        [LoggerMessage(4003, LogLevel.Information, "VirtualKey {Namespace}/{Name}: registry updated (key id {KeyId}, change version {ChangeVersion})")]
        public static partial void Registered(ILogger logger, string @namespace, string name, string keyId, long changeVersion);

        [LoggerMessage(4004, LogLevel.Information, "VirtualKey {Namespace}/{Name}: Ready={Ready} ({Reason})")]
        public static partial void ReadyChanged(ILogger logger, string @namespace, string name, bool ready, string reason);

        [LoggerMessage(4005, LogLevel.Information, "VirtualKey {Namespace}/{Name}: tombstoned in the registry and finalizer removed")]
        public static partial void Finalized(ILogger logger, string @namespace, string name);

        [LoggerMessage(4006, LogLevel.Warning, "VirtualKey {Namespace}/{Name}: {Problem}")]
        public static partial void RegistryUnavailable(ILogger logger, string @namespace, string name, string problem);

        [LoggerMessage(4007, LogLevel.Information, "VirtualKey {Namespace}/{Name}: its spec does not register whole; the registry key (key id {KeyId}) is restricted to it: {State} at change version {ChangeVersion}")]
        public static partial void Restricted(ILogger logger, string @namespace, string name, string keyId, VirtualKeyState state, long changeVersion);

        [LoggerMessage(4008, LogLevel.Warning, "VirtualKey {Namespace}/{Name}: its provider Secrets hold the spec back, and its token Secret could not be written either: {Problem}")]
        public static partial void TokenSecretRefusedWhileHeldBack(ILogger logger, string @namespace, string name, string problem);
    }
}
