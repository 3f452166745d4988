using VirtualKeys.Model.Tests.Support;
using VirtualKeys.Model.Validation;

namespace VirtualKeys.Model.Tests.Validation;

public class VirtualKeyValidatorTests
{
    [Fact]
    public void A_valid_key_has_no_problems()
    {
        Assert.Empty(VirtualKeyValidator.Validate(Keys.Valid()));
    }

    [Fact]
    public void Missing_spec_is_reported_at_spec()
    {
        var key = Keys.Valid();
        key.Spec = null!;

        AssertOnlyProblem(key, "spec", "is required");
    }

    [Fact]
    public void A_key_without_providers_is_reported_at_providers()
    {
        var key = Keys.Valid();
        key.Spec.Providers.Clear();

        AssertOnlyProblem(key, "spec.providers", "at least one provider");
    }

    [Theory]
    [InlineData("")]
    [InlineData("OpenAI")]
    [InlineData("open_ai")]
    [InlineData("-openai")]
    [InlineData("a-name-that-is-far-too-long-for-a-dns-label-because-it-has-64-ch")]
    public void A_provider_name_that_is_not_a_DNS_label_is_reported_at_its_name(string name)
    {
        var key = Keys.Valid();
        key.Spec.Providers[1].Name = name;

        AssertOnlyProblem(key, "spec.providers[1].name", name.Length == 0 ? "is required" : "DNS-1123 label");
    }

    [Fact]
    public void A_duplicate_provider_name_is_reported_at_the_second_one()
    {
        var key = Keys.Valid();
        key.Spec.Providers[1].Name = "openai";

        AssertOnlyProblem(key, "spec.providers[1].name", "duplicates spec.providers[0].name 'openai'");
    }

    [Theory]
    [InlineData(ProviderType.AzureOpenAI)]
    [InlineData(ProviderType.OpenAICompatible)]
    public void Providers_without_a_public_endpoint_need_a_base_url(ProviderType type)
    {
        var key = Keys.Valid();
        key.Spec.Providers[1].Type = type;
        key.Spec.Providers[1].ApiVersion = null;
        key.Spec.Providers[1].BaseUrl = null;

        AssertOnlyProblem(key, "spec.providers[1].baseUrl", $"is required for type {type}");
    }

    [Theory]
    [InlineData("api.openai.com/v1")]
    [InlineData("/openai/deployments")]
    [InlineData("ftp://files.example.com")]
    [InlineData("http//127.0.0.1:8080")]
    [InlineData("sk-pasted-into-the-wrong-field")]
    public void A_base_url_that_is_not_absolute_http_is_reported_without_echoing_it(string baseUrl)
    {
        var key = Keys.Valid();
        key.Spec.Providers[0].BaseUrl = baseUrl;

        var problem = AssertOnlyProblem(key, "spec.providers[0].baseUrl", "absolute http or https URL");
        Assert.DoesNotContain(baseUrl, problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_base_url_with_credentials_is_refused_and_the_credentials_never_echoed()
    {
        var key = Keys.Valid();
        key.Spec.Providers[0].BaseUrl = "https://user:sk-secret-in-url@api.example.com/v1";

        var problem = AssertOnlyProblem(key, "spec.providers[0].baseUrl", "must not contain credentials");
        Assert.DoesNotContain("sk-secret-in-url", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_base_url_with_a_query_is_refused_and_the_query_never_echoed()
    {
        var key = Keys.Valid();
        key.Spec.Providers[0].Type = ProviderType.Gemini;
        key.Spec.Providers[0].BaseUrl = "https://generativelanguage.example.com/v1beta?key=AIza-secret";

        var problem = AssertOnlyProblem(key, "spec.providers[0].baseUrl", "must not have a query string");
        Assert.DoesNotContain("AIza-secret", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_api_version_on_a_provider_other_than_Azure_is_reported()
    {
        var key = Keys.Valid();
        key.Spec.Providers[0].ApiVersion = "2024-10-21";

        AssertOnlyProblem(key, "spec.providers[0].apiVersion", "applies only to type AzureOpenAI, not OpenAI");
    }

    [Theory]
    [InlineData("latest")]
    [InlineData("2024-10-21-beta")]
    [InlineData("2024-10-21\n")]
    public void A_malformed_Azure_api_version_is_reported(string apiVersion)
    {
        var key = Keys.Valid();
        key.Spec.Providers[1].ApiVersion = apiVersion;

        AssertOnlyProblem(key, "spec.providers[1].apiVersion", "a date such as 2024-10-21");
    }

    [Fact]
    public void A_missing_secret_ref_is_reported_at_the_secret_ref()
    {
        var key = Keys.Valid();
        key.Spec.Providers[1].SecretRef = null!;

        AssertOnlyProblem(key, "spec.providers[1].secretRef", "is required");
    }

    [Theory]
    [InlineData("Azure-Key")]
    [InlineData("azure_key")]
    [InlineData("-azure-key")]
    [InlineData("azure-key.")]
    [InlineData("azure-key\n")]
    public void A_secret_name_that_is_not_a_DNS_subdomain_is_reported_at_its_name(string name)
    {
        var key = Keys.Valid();
        key.Spec.Providers[1].SecretRef.Name = name;

        AssertOnlyProblem(key, "spec.providers[1].secretRef.name", "DNS-1123 subdomain");
    }

    [Fact]
    public void A_secret_name_longer_than_253_characters_is_reported()
    {
        var key = Keys.Valid();
        key.Spec.Providers[0].SecretRef.Name = new string('a', 254);

        AssertOnlyProblem(key, "spec.providers[0].secretRef.name", "at most 253");
    }

    [Theory]
    [InlineData("", "is required")]
    [InlineData("api key", "Secret data key")]
    [InlineData("api/key", "Secret data key")]
    public void A_bad_secret_key_is_reported_at_the_key(string secretKey, string expected)
    {
        var key = Keys.Valid();
        key.Spec.Providers[0].SecretRef.Key = secretKey;

        AssertOnlyProblem(key, "spec.providers[0].secretRef.key", expected);
    }

    [Fact]
    public void A_negative_priority_is_reported()
    {
        var key = Keys.Valid();
        key.Spec.Providers[1].Priority = -1;

        AssertOnlyProblem(key, "spec.providers[1].priority", "must be 0 or more, got -1");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1001)]
    public void A_weight_outside_1_to_1000_is_reported(int weight)
    {
        var key = Keys.Valid();
        key.Spec.Providers[0].Weight = weight;

        AssertOnlyProblem(key, "spec.providers[0].weight", $"got {weight}");
    }

    [Theory]
    [InlineData("", "must not be empty")]
    [InlineData("gpt-4o\u0007mini", "control characters")]
    [InlineData(" gpt-4o-mini", "white space")]
    [InlineData("gpt-4o\u200bmini", "invisible formatting characters")]
    [InlineData("gpt-4o-mini\u202e", "got 'gpt-4o-mini\\u202e'")]
    public void A_bad_default_model_name_is_reported(string model, string expected)
    {
        var key = Keys.Valid();
        key.Spec.DefaultModel = model;

        AssertOnlyProblem(key, "spec.defaultModel", expected);
    }

    [Fact]
    public void A_model_name_longer_than_256_characters_is_reported()
    {
        var key = Keys.Valid();
        key.Spec.AllowedModels!.Add(new string('m', 257));
        key.Spec.Providers[1].Models = null;

        AssertOnlyProblem(key, "spec.allowedModels[2]", "at most 256 characters");
    }

    [Fact]
    public void A_control_character_in_a_provider_model_is_reported_at_that_model()
    {
        var key = Keys.Valid();
        key.Spec.Providers[1].Models = ["gpt-4o-mini", "gpt-4o\tmini"];

        AssertOnlyProblem(key, "spec.providers[1].models[1]", "control characters");
    }

    [Fact]
    public void A_control_character_in_an_allowed_model_is_reported_at_that_model()
    {
        var key = Keys.Valid();
        key.Spec.AllowedModels![1] = "gpt-4o\n";

        AssertOnlyProblem(key, "spec.allowedModels[1]", "control characters");
    }

    [Fact]
    public void A_default_model_outside_the_allowed_models_is_reported()
    {
        var key = Keys.Valid();
        key.Spec.DefaultModel = "o1";

        AssertOnlyProblem(key, "spec.defaultModel", "'o1' is not in spec.allowedModels");
    }

    [Fact]
    public void Any_default_model_is_fine_when_allowed_models_is_empty()
    {
        var key = Keys.Valid();
        key.Spec.AllowedModels = [];
        key.Spec.DefaultModel = "o1";

        Assert.Empty(VirtualKeyValidator.Validate(key));
    }

    [Fact]
    public void A_default_model_that_no_provider_serves_is_reported()
    {
        var key = Keys.ServingOnly("gpt-4o-mini", "gpt-4o");
        key.Spec.AllowedModels = null;
        key.Spec.DefaultModel = "o1";

        AssertOnlyProblem(key, "spec.defaultModel", "no provider serves");
    }

    [Fact]
    public void An_allowed_model_that_no_provider_serves_is_reported_at_that_model()
    {
        var key = Keys.ServingOnly("gpt-4o-mini");

        AssertOnlyProblem(key, "spec.allowedModels[1]", "is 'gpt-4o', which no provider serves");
    }

    [Fact]
    public void A_default_model_given_as_an_alias_is_checked_through_the_alias()
    {
        var key = Keys.Valid();
        key.Spec.DefaultModel = "fast";

        Assert.Empty(VirtualKeyValidator.Validate(key));
    }

    [Fact]
    public void An_alias_to_a_disallowed_model_is_reported_at_the_alias()
    {
        var key = Keys.Valid();
        key.Spec.ModelAliases!["fast"] = "gpt-3.5-turbo";

        AssertOnlyProblem(key, "spec.modelAliases.fast", "points at 'gpt-3.5-turbo', which is not in spec.allowedModels");
    }

    [Fact]
    public void An_alias_to_a_model_no_provider_serves_is_reported_at_the_alias()
    {
        var key = Keys.ServingOnly("gpt-4o-mini", "gpt-4o");
        key.Spec.AllowedModels = null;
        key.Spec.ModelAliases!["smart"] = "o1";

        AssertOnlyProblem(key, "spec.modelAliases.smart", "which no provider serves");
    }

    [Fact]
    public void An_alias_to_another_alias_is_reported_because_aliases_do_not_chain()
    {
        var key = Keys.Valid();
        key.Spec.ModelAliases!["quick"] = "fast";

        AssertOnlyProblem(key, "spec.modelAliases.quick", "aliases do not chain");
    }

    [Fact]
    public void An_alias_name_with_a_control_character_is_reported_with_a_quoted_path()
    {
        var key = Keys.Valid();
        key.Spec.ModelAliases!["fast\u0000"] = "gpt-4o-mini";

        AssertOnlyProblem(key, "spec.modelAliases[\"fast\\u0000\"]", "alias name must not contain control characters");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void Non_positive_requests_per_minute_is_reported(int value)
    {
        var key = Keys.Valid();
        key.Spec.Limits!.RequestsPerMinute = value;

        AssertOnlyProblem(key, "spec.limits.requestsPerMinute", $"must be at least 1, got {value}");
    }

    [Fact]
    public void Non_positive_tokens_per_minute_is_reported()
    {
        var key = Keys.Valid();
        key.Spec.Limits!.TokensPerMinute = 0;

        AssertOnlyProblem(key, "spec.limits.tokensPerMinute", "must be at least 1, got 0");
    }

    [Fact]
    public void Non_positive_max_parallel_requests_is_reported()
    {
        var key = Keys.Valid();
        key.Spec.Limits!.MaxParallelRequests = -1;

        AssertOnlyProblem(key, "spec.limits.maxParallelRequests", "must be at least 1, got -1");
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("1e3")]
    [InlineData("12,50")]
    [InlineData(" 5")]
    [InlineData("5.")]
    [InlineData("$5")]
    public void A_max_cost_that_is_not_a_decimal_is_reported(string maxCost)
    {
        var key = Keys.Valid();
        key.Spec.Budget!.MaxCostUsd = maxCost;

        AssertOnlyProblem(key, "spec.budget.maxCostUsd", "must be a decimal number of US dollars");
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("-0.01")]
    [InlineData("0")]
    [InlineData("0.00")]
    public void A_negative_or_zero_max_cost_is_reported(string maxCost)
    {
        var key = Keys.Valid();
        key.Spec.Budget!.MaxCostUsd = maxCost;

        AssertOnlyProblem(key, "spec.budget.maxCostUsd", "must be greater than zero");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(101)]
    public void An_alert_percentage_outside_1_to_100_is_reported(int percent)
    {
        var key = Keys.Valid();
        key.Spec.Budget!.AlertAtPercent = percent;

        AssertOnlyProblem(key, "spec.budget.alertAtPercent", $"must be between 1 and 100, got {percent}");
    }

    [Fact]
    public void A_token_secret_name_that_is_not_a_DNS_subdomain_is_reported()
    {
        var key = Keys.Valid();
        key.Spec.TokenSecretName = "Team_A_Token";

        AssertOnlyProblem(key, "spec.tokenSecretName", "DNS-1123 subdomain");
    }

    [Fact]
    public void A_token_secret_that_is_also_a_provider_secret_is_reported()
    {
        var key = Keys.Valid();
        key.Spec.TokenSecretName = "azure-key";

        AssertOnlyProblem(key, "spec.tokenSecretName", "is also the Secret of spec.providers[1].secretRef");
    }

    [Fact]
    public void The_default_token_secret_name_is_checked_against_provider_secrets_too()
    {
        var key = Keys.Valid();
        key.Metadata.Name = "openai";
        key.Spec.Providers[0].SecretRef.Name = "openai-token";

        AssertOnlyProblem(key, "spec.tokenSecretName", "'openai-token' is also the Secret of spec.providers[0].secretRef");
    }

    [Fact]
    public void A_default_token_secret_name_longer_than_253_characters_is_reported()
    {
        var key = Keys.Valid();
        key.Metadata.Name = new string('k', 250);

        AssertOnlyProblem(key, "spec.tokenSecretName", "longer than 253 characters");
    }

    [Fact]
    public void Every_problem_is_reported_at_once_in_field_order()
    {
        var key = Keys.Valid();
        key.Spec.Providers[1].SecretRef.Name = "Bad_Name";
        key.Spec.Limits!.RequestsPerMinute = 0;
        key.Spec.Budget!.MaxCostUsd = "lots";

        var problems = VirtualKeyValidator.Validate(key);

        Assert.Equal(
            ["spec.providers[1].secretRef.name", "spec.limits.requestsPerMinute", "spec.budget.maxCostUsd"],
            problems.Select(problem => problem.Field));
    }

    [Fact]
    public void Format_joins_the_problems_into_one_line_naming_each_field()
    {
        var key = Keys.Valid();
        key.Spec.Limits!.RequestsPerMinute = 0;
        key.Spec.Budget!.AlertAtPercent = 101;

        var message = VirtualKeyValidator.Format(VirtualKeyValidator.Validate(key));

        Assert.Equal(
            "spec.limits.requestsPerMinute: must be at least 1, got 0 (omit the field for no limit); " +
            "spec.budget.alertAtPercent: must be between 1 and 100, got 101",
            message);
        Assert.DoesNotContain('\n', message);
    }

    private static ValidationProblem AssertOnlyProblem(VirtualKey key, string field, string messageFragment)
    {
        var problems = VirtualKeyValidator.Validate(key);
        var problem = Assert.Single(problems);
        Assert.Equal(field, problem.Field);
        Assert.Contains(messageFragment, problem.Message, StringComparison.Ordinal);
        Assert.StartsWith(field + ": ", VirtualKeyValidator.Format(problems), StringComparison.Ordinal);
        return problem;
    }
}
