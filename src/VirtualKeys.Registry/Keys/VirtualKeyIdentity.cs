namespace VirtualKeys.Registry.Keys;

/// <summary>The resource a key belongs to. The uid tells a recreated resource from the deleted one of the same name.</summary>
public sealed record VirtualKeyIdentity(string Namespace, string Name, string Uid)
{
    public override string ToString() => Namespace + "/" + Name;
}
