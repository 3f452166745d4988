namespace VirtualKeys.Sidecar.Registry;

/// <summary>
/// Told the registry's change version whenever a statement the sidecar sends anyway (a usage batch)
/// read it, so the snapshot source's periodic check needs no statement of its own.
/// </summary>
public interface IChangeVersionObserver
{
    void ObserveChangeVersion(long changeVersion);
}
