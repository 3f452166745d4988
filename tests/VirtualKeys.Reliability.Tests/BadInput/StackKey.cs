using VirtualKeys.Registry.Keys;

namespace VirtualKeys.Reliability.Tests.BadInput;

/// <summary>A key written by <see cref="SidecarStack"/> and its token (raw: never print it).</summary>
internal sealed record StackKey(VirtualKeyIdentity Identity, string KeyId, string Token, VirtualKeyConfig Config);
