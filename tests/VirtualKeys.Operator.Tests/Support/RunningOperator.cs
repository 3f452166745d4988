using VirtualKeys.Operator.Hosting;

namespace VirtualKeys.Operator.Tests.Support;

internal sealed record RunningOperator(OperatorApp App, WriteCounter Writes, CallLog? Calls);
