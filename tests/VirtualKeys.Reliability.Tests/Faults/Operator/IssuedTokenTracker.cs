using System.Text;
using System.Text.Json;
using VirtualKeys.LocalCluster;
using VirtualKeys.Model;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Reliability.Tests.Support;

namespace VirtualKeys.Reliability.Tests.Faults.Operator;

/// <summary>
/// Hands every token the operators write into a Secret to the ledger as it is committed, not only
/// the ones left at the end: a token rotated out or deleted mid-run must not show up in any output
/// either. Listens to the local API server's commits, so it makes no requests that injected
/// failures would count.
/// </summary>
internal sealed class IssuedTokenTracker : IDisposable
{
    private readonly LocalApiServer _server;
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

    public IssuedTokenTracker(LocalApiServer server)
    {
        _server = server;
        _server.Committed += OnCommitted;
    }

    /// <summary>How many distinct tokens were seen so far.</summary>
    public int Tracked
    {
        get
        {
            lock (_seen)
            {
                return _seen.Count;
            }
        }
    }

    public void Dispose() => _server.Committed -= OnCommitted;

    /// <summary>Why a committed Secret could not be read, if one could not: the run must not pass on an untracked token.</summary>
    public string? Failure { get; private set; }

    // Raised on the API server's writing thread after its commit: an exception here would fail a
    // request whose write took effect, so none leaves; the scenario checks Failure instead.
    private void OnCommitted(string storageKey, byte[] json)
    {
        try
        {
            Track(storageKey, json);
        }
        catch (Exception e)
        {
            Failure ??= e.GetType().Name + ": " + e.Message;
        }
    }

    private void Track(string storageKey, byte[] json)
    {
        if (storageKey != "/secrets")
        {
            return;
        }

        using var document = JsonDocument.Parse(json);
        if (!document.RootElement.TryGetProperty("data", out var data)
            || data.ValueKind != JsonValueKind.Object
            || !data.TryGetProperty(WellKnown.TokenSecretKey, out var encoded)
            || encoded.ValueKind != JsonValueKind.String
            || !encoded.TryGetBytesFromBase64(out var bytes)
            || !VirtualKeyToken.TryParse(Encoding.UTF8.GetString(bytes), out var token))
        {
            return;
        }

        var raw = token.Reveal();
        lock (_seen)
        {
            if (!_seen.Add(raw))
            {
                return;
            }
        }

        SecretLedger.Track(raw);
    }
}
