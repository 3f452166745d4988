using System.Collections.Concurrent;

namespace VirtualKeys.Reliability.Tests.Support;

/// <summary>
/// Every raw provider key and token the suite used, and every piece of output the suite saw (log
/// lines, metric scrapes, Events, statuses, exception messages, table dumps). Scenarios call
/// <see cref="Track"/> for each secret they create and <see cref="Observe"/> for each output they
/// collect, and may call <see cref="Scan"/> themselves; at the end of the run the assembly fixture
/// scans everything once more and fails the run on any hit.
/// </summary>
public sealed class SecretLedger : IAsyncLifetime
{
    private static readonly ConcurrentDictionary<string, byte> Secrets = new(StringComparer.Ordinal);
    private static readonly ConcurrentQueue<Observation> Observations = new();

    /// <summary>Secrets shorter than this are not tracked: they would match by chance.</summary>
    public const int MinimumSecretLength = 12;

    public static int SecretCount => Secrets.Count;

    public static int ObservationCount => Observations.Count;

    public static long ObservedCharacters => Observations.Sum(o => (long)o.Text.Length);

    /// <summary>Remembers a raw secret (a provider key, a token) so no output may contain it.</summary>
    public static void Track(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        if (secret.Length < MinimumSecretLength)
        {
            throw new ArgumentException($"Secrets shorter than {MinimumSecretLength} characters would match by chance; use a longer one.", nameof(secret));
        }

        Secrets.TryAdd(secret, 0);
    }

    /// <summary>Records output the suite saw. <paramref name="source"/> says where it came from.</summary>
    public static void Observe(string source, string? text)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!string.IsNullOrEmpty(text))
        {
            Observations.Enqueue(new Observation(source, text));
        }
    }

    /// <summary>Each (source, secret prefix) pair where a tracked secret appears in observed output.</summary>
    public static IReadOnlyList<string> Scan() =>
        FindHits(Observations.Select(o => (o.Source, o.Text)), Secrets.Keys.ToArray());

    /// <summary>
    /// The matching rule itself: each (source, secret) pair where the text contains the secret as it
    /// is, hex-encoded (how PostgreSQL shows a <c>bytea</c> column, as in a table dump) or
    /// base64-encoded at any byte offset (how a Kubernetes Secret or a JWT-like blob carries it).
    /// </summary>
    public static IReadOnlyList<string> FindHits(IEnumerable<(string Source, string Text)> observations, IReadOnlyCollection<string> secrets)
    {
        var needles = secrets.SelectMany(secret => Encodings(secret).Select(e => (Secret: secret, e.Form, e.Needle))).ToArray();
        var hits = new List<string>();
        foreach (var (source, text) in observations)
        {
            foreach (var (secret, form, needle) in needles)
            {
                if (text.Contains(needle, StringComparison.Ordinal))
                {
                    // Never print the secret itself: its first characters are enough to find it.
                    hits.Add($"{source}: contains a tracked secret starting '{secret[..6]}…'{form}");
                }
            }
        }

        return hits.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// The forms a secret is searched in. Base64 depends on where the secret starts within the encoded
    /// bytes, so each of the three offsets gives a needle: the characters that encode only the
    /// secret's own bytes (the first and last groups of four may mix in neighbouring bytes).
    /// </summary>
    internal static IEnumerable<(string Form, string Needle)> Encodings(string secret)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(secret);
        yield return (string.Empty, secret);
        yield return (" (hex-encoded)", Convert.ToHexStringLower(bytes));
        yield return (" (hex-encoded)", Convert.ToHexString(bytes));
        for (var offset = 0; offset < 3; offset++)
        {
            var padded = new byte[offset + bytes.Length];
            bytes.CopyTo(padded, offset);
            var encoded = Convert.ToBase64String(padded);
            var start = offset == 0 ? 0 : 4;
            var end = encoded.Length - 4;
            if (end - start >= 12)
            {
                yield return (" (base64-encoded)", encoded[start..end]);
            }
        }
    }

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync()
    {
        var hits = Scan();
        if (hits.Count > 0)
        {
            throw new InvalidOperationException(
                $"Secret leak: {hits.Count} observed output(s) contain a raw provider key or token:{Environment.NewLine}" +
                string.Join(Environment.NewLine, hits.Take(50)));
        }

        return ValueTask.CompletedTask;
    }

    private sealed record Observation(string Source, string Text);
}
