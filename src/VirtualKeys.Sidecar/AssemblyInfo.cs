namespace VirtualKeys.Sidecar;
