namespace VirtualKeys.Registry.Tests;
