namespace VirtualKeys.MockProvider;

internal enum MockFaultKind
{
    Status,
    DropConnection,
    DelayFirstByte,
    BreakStream,
}
