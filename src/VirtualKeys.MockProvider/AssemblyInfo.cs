namespace VirtualKeys.MockProvider;
