namespace VirtualKeys.Operator;
