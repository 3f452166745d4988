namespace VirtualKeys.Model;

/// <summary>
/// The names under which a <see cref="VirtualKey"/> exists in a cluster, shared by the operator,
/// the sidecar, the CLI and the CRD generator so that none of them spells one differently.
/// </summary>
public static class WellKnown
{
    public const string Group = "aigateway.dev";

    public const string Version = "v1alpha1";

    /// <summary>The <c>apiVersion</c> of every VirtualKey manifest: <c>aigateway.dev/v1alpha1</c>.</summary>
    public const string ApiVersion = Group + "/" + Version;

    public const string Kind = "VirtualKey";

    public const string ListKind = "VirtualKeyList";

    public const string Plural = "virtualkeys";

    public const string Singular = "virtualkey";

    public const string ShortName = "vk";

    /// <summary>Lets <c>kubectl get aigateway</c> list every resource of the product.</summary>
    public const string Category = "aigateway";

    /// <summary>The CustomResourceDefinition's <c>metadata.name</c>: <c>virtualkeys.aigateway.dev</c>.</summary>
    public const string CrdName = Plural + "." + Group;

    /// <summary>Held on every VirtualKey until the operator has removed its registry entry and token.</summary>
    public const string Finalizer = Group + "/finalizer";

    /// <summary>
    /// Any new value of this annotation asks the operator for a new token; the previous token keeps
    /// working for a grace period so that clients can switch over.
    /// </summary>
    public const string RotateTokenAnnotation = Group + "/rotate-token";

    /// <summary>The data key of the issued token inside the token Secret.</summary>
    public const string TokenSecretKey = "token";

    /// <summary>Appended to the VirtualKey's name when <c>spec.tokenSecretName</c> is not set.</summary>
    public const string TokenSecretNameSuffix = "-token";

    /// <summary>The Azure OpenAI <c>api-version</c> used when a provider does not set <c>apiVersion</c>.</summary>
    public const string DefaultAzureOpenAIApiVersion = "2024-10-21";
}
