namespace VirtualKeys.MockProvider;

internal enum MockFaultKind
{
    Status,
    EmptyStatus,
    DropConnection,
    BreakBeforeBody,
    DelayFirstByte,
    BreakStream,
    ErrorInStream,
}
