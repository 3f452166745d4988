using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace VirtualKeys.Sidecar.Resolve;

/// <summary>Routers report either the upstream HTTP status or a word; both are common, so both are accepted.</summary>
public sealed class UsageReportStatusConverter : JsonConverter<UsageReportStatus?>
{
    public override UsageReportStatus? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.Number when reader.TryGetInt32(out var code) && code is >= 100 and <= 599:
                return new UsageReportStatus(code is >= 200 and <= 299, code.ToString(CultureInfo.InvariantCulture));
            case JsonTokenType.String:
                if (reader.ValueTextEquals("success"u8) || reader.ValueTextEquals("ok"u8))
                {
                    return new UsageReportStatus(true, "success");
                }

                if (reader.ValueTextEquals("error"u8) || reader.ValueTextEquals("failed"u8))
                {
                    return new UsageReportStatus(false, "error");
                }

                if (reader.ValueTextEquals("cancelled"u8) || reader.ValueTextEquals("canceled"u8))
                {
                    return new UsageReportStatus(false, "cancelled");
                }

                break;
        }

        throw new JsonException("status must be an HTTP status code (100-599) or one of \"success\", \"error\", \"cancelled\".");
    }

    public override void Write(Utf8JsonWriter writer, UsageReportStatus? value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (value is { } status)
        {
            writer.WriteStringValue(status.Detail);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}
