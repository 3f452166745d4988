using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using VirtualKeys.Registry.Keys;

namespace VirtualKeys.Registry.Notifications;

/// <summary>
/// The payload of a NOTIFY on <see cref="RegistryChangeListener.Channel"/>, sent in the transaction
/// of every key change (so only once it commits). As JSON:
/// <c>{"keyId":"abcdefghijklmnop","namespace":"team-a","name":"chat","state":"Active","changeVersion":42}</c>.
/// </summary>
/// <remarks>
/// A notification says which key changed, not how: read the key (or everything changed since the
/// last change version seen) to learn the new state. Missed notifications cost nothing that way.
/// </remarks>
public sealed record RegistryChange(string KeyId, string Namespace, string Name, VirtualKeyState State, long ChangeVersion)
{
    public string ToPayload() => JsonSerializer.Serialize(this, RegistryJsonContext.Default.RegistryChange);

    public static bool TryParse(string? payload, [NotNullWhen(true)] out RegistryChange? change)
    {
        change = null;
        if (string.IsNullOrEmpty(payload))
        {
            return false;
        }

        try
        {
            change = JsonSerializer.Deserialize(payload, RegistryJsonContext.Default.RegistryChange);
        }
        catch (JsonException)
        {
            return false;
        }

        return change is { KeyId: not null, Namespace: not null, Name: not null };
    }
}
