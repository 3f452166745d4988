using VirtualKeys.LocalCluster.Tests.Backends;

namespace VirtualKeys.LocalCluster.Tests.Conformance;

public sealed class K3sConformanceTests(K3sBackend backend) : ConformanceSuite<K3sBackend>(backend);
