using Microsoft.Extensions.Options;

namespace VirtualKeys.Operator.Runtime.Hosting;

internal sealed class ControllerHostOptionsValidator : IValidateOptions<ControllerHostOptions>
{
    public ValidateOptionsResult Validate(string? name, ControllerHostOptions options)
    {
        try
        {
            options.Validate();
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException e)
        {
            return ValidateOptionsResult.Fail($"Controller runtime options: {e.Message}");
        }
    }
}
