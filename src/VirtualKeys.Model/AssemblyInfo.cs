namespace VirtualKeys.Model;
