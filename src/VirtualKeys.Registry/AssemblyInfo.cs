namespace VirtualKeys.Registry;
