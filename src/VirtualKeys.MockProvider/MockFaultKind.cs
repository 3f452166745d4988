namespace VirtualKeys.MockProvider;

internal enum MockFaultKind
{
    Status,
    EmptyStatus,
    DropConnection,
    DelayFirstByte,
    BreakStream,
}
