namespace VirtualKeys.LocalCluster;
