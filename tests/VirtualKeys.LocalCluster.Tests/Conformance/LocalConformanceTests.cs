using VirtualKeys.LocalCluster.Tests.Backends;

namespace VirtualKeys.LocalCluster.Tests.Conformance;

public sealed class LocalConformanceTests(LocalBackend backend) : ConformanceSuite<LocalBackend>(backend);
