using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("VirtualKeys.Sidecar.Tests")]
[assembly: InternalsVisibleTo("VirtualKeys.Benchmarks")]

namespace VirtualKeys.Sidecar;
