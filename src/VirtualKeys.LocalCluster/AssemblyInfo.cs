using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("VirtualKeys.LocalCluster.Tests")]
