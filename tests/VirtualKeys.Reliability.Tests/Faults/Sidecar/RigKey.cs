using VirtualKeys.Registry.Keys;

namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>A key written to the registry and its raw token (tracked by the secret ledger).</summary>
internal sealed record RigKey(VirtualKeyIdentity Identity, string KeyId, string Token);
