namespace VirtualKeys.Reliability.Tests.Support;

public sealed class SecretLedgerTests
{
    [Fact]
    public void A_secret_inside_output_is_found_and_the_report_does_not_repeat_it()
    {
        var secret = "sk-ledger-self-test-" + Guid.NewGuid().ToString("N");
        var hits = SecretLedger.FindHits(
            [("log", "starting up"), ("status", "{\"message\":\"key " + secret + " refused\"}")],
            [secret]);

        var hit = Assert.Single(hits);
        Assert.StartsWith("status:", hit, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, hit, StringComparison.Ordinal);
    }

    [Fact]
    public void Clean_output_has_no_hits()
    {
        Assert.Empty(SecretLedger.FindHits([("metrics", "vk_sidecar_requests_total 3")], ["sk-not-present-anywhere-123"]));
    }

    [Fact]
    public void Short_secrets_are_refused_because_they_would_match_by_chance()
    {
        Assert.Throws<ArgumentException>(() => SecretLedger.Track("short"));
    }
}
