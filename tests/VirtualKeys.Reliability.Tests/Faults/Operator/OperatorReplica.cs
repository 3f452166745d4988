namespace VirtualKeys.Reliability.Tests.Faults.Operator;

/// <summary>An operator process and the audit proxy that is its only way to the API server.</summary>
internal sealed record OperatorReplica(OperatorProcess Process, WriteAuditProxy Proxy)
{
    public string Identity => Process.Identity;

    public static async Task<OperatorReplica> StartAsync(ChaosCluster cluster, string identity, OperatorKnobs knobs, CancellationToken cancellationToken)
    {
        var proxy = await WriteAuditProxy.StartAsync(cluster.Server, cancellationToken);
        var kubeconfig = Path.Combine(cluster.Directory, identity + ".kubeconfig");
        proxy.WriteKubeconfig(cluster.Server, kubeconfig);
        return new OperatorReplica(cluster.StartOperator(identity, knobs, kubeconfig), proxy);
    }

    /// <summary>
    /// What this replica wrote before <paramref name="until"/> that only a leader may write: API
    /// writes other than its Lease (from the proxy) and registry writes (from its log: token issued
    /// or rotated, registry updated, tombstoned).
    /// </summary>
    public int LeaderOnlyWritesBefore(DateTimeOffset until) =>
        Proxy.Writes.Count(w => !w.IsLease && w.SentAt < until)
        + Process.ReconcilerWrites().Count(l => l.ReadAt < until);
}
