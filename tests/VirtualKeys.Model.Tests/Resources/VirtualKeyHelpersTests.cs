using k8s;
using k8s.Models;
using VirtualKeys.Model.Tests.Support;

namespace VirtualKeys.Model.Tests.Resources;

public class VirtualKeyHelpersTests
{
    [Fact]
    public void The_token_secret_defaults_to_the_name_followed_by_token()
    {
        var key = new VirtualKey { Metadata = new V1ObjectMeta { Name = "team-a" } };

        Assert.Equal("team-a-token", key.GetTokenSecretName());
    }

    [Fact]
    public void An_explicit_token_secret_name_wins()
    {
        var key = new VirtualKey { Metadata = new V1ObjectMeta { Name = "team-a" }, Spec = new VirtualKeySpec { TokenSecretName = "shared-token" } };

        Assert.Equal("shared-token", key.GetTokenSecretName());
    }

    [Fact]
    public void A_key_without_a_name_or_token_secret_name_has_no_token_secret_name()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new VirtualKey().GetTokenSecretName());

        Assert.Contains("metadata.name", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void VirtualKey_is_a_Kubernetes_object_with_spec_and_status_for_KubernetesClient()
    {
        Assert.True(typeof(IKubernetesObject<V1ObjectMeta>).IsAssignableFrom(typeof(VirtualKey)));
        Assert.True(typeof(ISpec<VirtualKeySpec>).IsAssignableFrom(typeof(VirtualKey)));
        Assert.True(typeof(IStatus<VirtualKeyStatus>).IsAssignableFrom(typeof(VirtualKey)));
        Assert.True(typeof(IItems<VirtualKey>).IsAssignableFrom(typeof(VirtualKeyList)));
        var entity = typeof(VirtualKey).GetCustomAttributes(typeof(KubernetesEntityAttribute), false).Cast<KubernetesEntityAttribute>().Single();
        Assert.Equal(("aigateway.dev", "v1alpha1", "VirtualKey", "virtualkeys"), (entity.Group, entity.ApiVersion, entity.Kind, entity.PluralName));
    }

    [Theory]
    [InlineData(null, "gpt-4o-mini")]
    [InlineData("", "gpt-4o-mini")]
    [InlineData("fast", "gpt-4o-mini")]
    [InlineData("gpt-4o", "gpt-4o")]
    [InlineData("unknown-model", "unknown-model")]
    public void A_request_resolves_through_the_default_and_the_aliases(string? requested, string expected)
    {
        Assert.Equal(expected, Keys.Valid().Spec.ResolveModel(requested));
    }

    [Fact]
    public void A_request_without_a_model_resolves_to_nothing_when_there_is_no_default()
    {
        var spec = Keys.Valid().Spec;
        spec.DefaultModel = null;

        Assert.Null(spec.ResolveModel(null));
    }

    [Fact]
    public void A_default_given_as_an_alias_resolves_to_its_target()
    {
        var spec = Keys.Valid().Spec;
        spec.DefaultModel = "fast";

        Assert.Equal("gpt-4o-mini", spec.ResolveModel(null));
    }

    [Fact]
    public void Allowed_models_compare_exactly_and_an_empty_list_allows_all()
    {
        var spec = Keys.Valid().Spec;
        Assert.True(spec.IsModelAllowed("gpt-4o"));
        Assert.False(spec.IsModelAllowed("GPT-4o"));

        spec.AllowedModels = [];
        Assert.True(spec.IsModelAllowed("anything"));
    }

    [Fact]
    public void A_provider_without_a_models_list_serves_every_model()
    {
        var providers = Keys.Valid().Spec.Providers;

        Assert.True(providers[0].Serves("o1"));
        Assert.True(providers[1].Serves("gpt-4o-mini"));
        Assert.False(providers[1].Serves("o1"));
    }
}
