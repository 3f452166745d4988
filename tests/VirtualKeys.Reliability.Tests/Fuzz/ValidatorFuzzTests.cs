using System.Text.RegularExpressions;
using CsCheck;
using k8s.Models;
using VirtualKeys.Model;
using VirtualKeys.Model.Validation;

namespace VirtualKeys.Reliability.Tests.Fuzz;

/// <summary>
/// Property tests of <see cref="VirtualKeyValidator"/> over arbitrary specs, nulls and hostile strings
/// included: it never throws, every problem names a field of the spec, and a spec built to be valid
/// has no problems.
/// </summary>
public sealed partial class ValidatorFuzzTests
{
    private static readonly Gen<string?> MaybeString = Gen.Frequency(
        (6, FuzzGens.HostileString.Select(s => (string?)s)),
        (2, Gen.OneOfConst<string?>("gpt-4o-mini", "openai-key", "api-key", "https://api.example.com/v1", "2024-10-21", "12.50")),
        (1, Gen.Const((string?)null)));

    private static readonly Gen<int> AnyInt = Gen.Frequency((3, Gen.Int[-5, 1005]), (1, Gen.Int));

    private static readonly Gen<ProviderSpec?> AnyProvider = Gen.Select(
        MaybeString,
        Gen.Int[0, 6],
        MaybeString,
        MaybeString,
        Gen.Select(MaybeString, MaybeString).Nullable(0.1),
        MaybeString.List[0, 4].Null(0.3),
        AnyInt,
        AnyInt).Select((name, type, baseUrl, apiVersion, secretRef, models, priority, weight) => new ProviderSpec
        {
            Name = name!,
            Type = (ProviderType)type,
            BaseUrl = baseUrl,
            ApiVersion = apiVersion,
            SecretRef = secretRef is { } r ? new SecretKeyRef { Name = r.Item1!, Key = r.Item2! } : null!,
            Models = models?.Select(m => m!).ToList()!,
            Priority = priority,
            Weight = weight,
        }).Null(0.05);

    private static readonly Gen<VirtualKey> AnyKey = Gen.Select(
        AnyProvider.List[0, 4].Null(0.1),
        MaybeString,
        MaybeString.List[0, 4].Null(0.4),
        Gen.Select(FuzzGens.HostileString, MaybeString).List[0, 4].Null(0.4),
        Gen.Select(AnyInt.Nullable(0.5), AnyInt.Nullable(0.5), AnyInt.Nullable(0.5)).Nullable(0.4),
        Gen.Select(MaybeString, AnyInt.Nullable(0.5)).Nullable(0.5),
        MaybeString,
        Gen.Select(MaybeString, Gen.Bool)).Select((providers, defaultModel, allowed, aliases, limits, budget, tokenSecret, meta) => new VirtualKey
        {
            Metadata = new V1ObjectMeta { Name = meta.Item1 },
            Spec = meta.Item2 && providers is null ? null! : new VirtualKeySpec
            {
                Providers = providers!,
                DefaultModel = defaultModel,
                AllowedModels = allowed?.Select(m => m!).ToList()!,
                ModelAliases = aliases?.DistinctBy(a => a.Item1).ToDictionary(a => a.Item1, a => a.Item2!),
                Limits = limits is { } l ? new RateLimits { RequestsPerMinute = l.Item1, TokensPerMinute = l.Item2, MaxParallelRequests = l.Item3 } : null,
                Budget = budget is { } b ? new BudgetSpec { MaxCostUsd = b.Item1!, AlertAtPercent = b.Item2 } : null,
                TokenSecretName = tokenSecret,
            },
        });

    private static readonly Gen<string> Label = Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789"].Array[1, 20].Select(c => new string(c));

    private static readonly Gen<VirtualKey> ValidKey = Gen.Select(
        Label.HashSet[1, 4],
        Label,
        Gen.Int[1, 100_000].Nullable(0.5),
        Gen.Int[1, 1_000_000].Nullable(0.5),
        Gen.Select(Gen.Int[1, 100_000], Gen.Int[1, 100].Nullable(0.5)).Nullable(0.5),
        Label).Select((names, model, rpm, tpm, budget, keyName) => new VirtualKey
        {
            Metadata = new V1ObjectMeta { Name = keyName },
            Spec = new VirtualKeySpec
            {
                Providers = [.. names.Select((n, i) => new ProviderSpec
                {
                    Name = n,
                    Type = ProviderType.OpenAI,
                    SecretRef = new SecretKeyRef { Name = "provider-" + n, Key = "api-key" },
                    Priority = i,
                })],
                DefaultModel = "m-" + model,
                Limits = new RateLimits { RequestsPerMinute = rpm, TokensPerMinute = tpm },
                Budget = budget is { } b ? new BudgetSpec { MaxCostUsd = b.Item1.ToString(System.Globalization.CultureInfo.InvariantCulture), AlertAtPercent = b.Item2 } : null,
            },
        });

    [Fact]
    public void Validating_any_spec_never_throws_and_every_problem_names_a_field()
    {
        AnyKey.Sample(
            key =>
            {
                var problems = VirtualKeyValidator.Validate(key);
                foreach (var problem in problems)
                {
                    Assert.Matches(FieldPath(), problem.Field);
                    Assert.False(string.IsNullOrWhiteSpace(problem.Message), $"{problem.Field} has no message");
                    Assert.DoesNotContain('\n', problem.Message);
                }

                var line = VirtualKeyValidator.Format(problems);
                Assert.Equal(problems.Count == 0, line.Length == 0);
            },
            iter: FuzzGens.Iterations(5_000, 200_000));
    }

    [Fact]
    public void A_spec_built_to_be_valid_has_no_problems()
    {
        ValidKey.Sample(
            key => Assert.Empty(VirtualKeyValidator.Validate(key)),
            iter: FuzzGens.Iterations(2_000, 50_000),
            print: key => System.Text.Json.JsonSerializer.Serialize(key.Spec));
    }

    // spec, then .field, [index] or ["quoted key"] steps; a quoted key has its control characters escaped.
    [GeneratedRegex("""^spec(\.[A-Za-z][A-Za-z0-9]*|\[[0-9]+\]|\.[A-Za-z0-9_.-]+|\["[^"\p{Cc}]*"\])*$""")]
    private static partial Regex FieldPath();
}
