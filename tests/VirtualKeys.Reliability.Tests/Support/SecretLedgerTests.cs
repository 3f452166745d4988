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

    [Theory]
    [InlineData("")]
    [InlineData("a")]
    [InlineData("ab")]
    [InlineData("abc")]
    public void A_secret_base64_encoded_at_any_offset_is_found(string before)
    {
        var secret = "vk_live_ledger_" + Guid.NewGuid().ToString("N");
        var secretData = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(before + secret + "\n"));
        var asSecret = "{\"kind\":\"Secret\",\"data\":{\"token\":\"" + secretData + "\"}}";

        var hit = Assert.Single(SecretLedger.FindHits([("Secret leaked", asSecret)], [secret]));

        Assert.Contains("base64", hit, StringComparison.Ordinal);
    }

    [Fact]
    public void A_secret_in_a_bytea_column_of_a_table_dump_is_found()
    {
        var secret = "sk-ledger-bytea-" + Guid.NewGuid().ToString("N");
        var row = "{\"id\":7,\"credential\":\"\\\\x" + Convert.ToHexStringLower(System.Text.Encoding.UTF8.GetBytes(secret)) + "\"}";

        var hit = Assert.Single(SecretLedger.FindHits([("registry tables", row)], [secret]));

        Assert.Contains("hex", hit, StringComparison.Ordinal);
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
