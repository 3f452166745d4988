using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace VirtualKeys.MockProvider;

/// <summary>Renders the OpenAI and Anthropic response and event shapes the real APIs use.</summary>
internal static class MockResponses
{
    public const long Created = 1_700_000_000;

    public static async Task ChatAsync(HttpContext context, MockCall call, Func<Task> afterFirstChunk)
    {
        var id = $"chatcmpl-mock-{call.Sequence}";
        if (!call.Stream)
        {
            await JsonAsync(context, new JsonObject
            {
                ["id"] = id,
                ["object"] = "chat.completion",
                ["created"] = Created,
                ["model"] = call.Model,
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0,
                    ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = call.Text },
                    ["finish_reason"] = "stop",
                }),
                ["usage"] = OpenAIUsage(call),
            });
            return;
        }

        StartEvents(context);
        JsonObject Chunk(JsonObject delta, string? finish)
        {
            var chunk = new JsonObject
            {
                ["id"] = id,
                ["object"] = "chat.completion.chunk",
                ["created"] = Created,
                ["model"] = call.Model,
                ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish }),
            };

            // With include_usage, OpenAI sends "usage": null on every chunk before the last.
            if (call.IncludeUsage)
            {
                chunk["usage"] = null;
            }

            return chunk;
        }

        await DataAsync(context, Chunk(new JsonObject { ["role"] = "assistant", ["content"] = "" }, null));
        for (var i = 0; i < call.AnswerWords.Count; i++)
        {
            await DataAsync(context, Chunk(new JsonObject { ["content"] = Word(call, i) }, null));
            if (i == 0)
            {
                await afterFirstChunk();
            }
        }

        await DataAsync(context, Chunk(new JsonObject(), "stop"));
        if (call.IncludeUsage)
        {
            await DataAsync(context, new JsonObject
            {
                ["id"] = id,
                ["object"] = "chat.completion.chunk",
                ["created"] = Created,
                ["model"] = call.Model,
                ["choices"] = new JsonArray(),
                ["usage"] = OpenAIUsage(call),
            });
        }

        await RawAsync(context, "data: [DONE]\n\n");
    }

    public static async Task CompletionAsync(HttpContext context, MockCall call, Func<Task> afterFirstChunk)
    {
        var id = $"cmpl-mock-{call.Sequence}";
        JsonObject Body(string text, string? finish, bool usage) => new()
        {
            ["id"] = id,
            ["object"] = "text_completion",
            ["created"] = Created,
            ["model"] = call.Model,
            ["choices"] = new JsonArray(new JsonObject { ["text"] = text, ["index"] = 0, ["logprobs"] = null, ["finish_reason"] = finish }),
            ["usage"] = usage ? OpenAIUsage(call) : null,
        };

        if (!call.Stream)
        {
            await JsonAsync(context, Body(call.Text, "stop", usage: true));
            return;
        }

        StartEvents(context);
        for (var i = 0; i < call.AnswerWords.Count; i++)
        {
            await DataAsync(context, Body(Word(call, i), i == call.AnswerWords.Count - 1 ? "stop" : null, usage: false));
            if (i == 0)
            {
                await afterFirstChunk();
            }
        }

        if (call.IncludeUsage)
        {
            var final = Body("", null, usage: true);
            final["choices"] = new JsonArray();
            await DataAsync(context, final);
        }

        await RawAsync(context, "data: [DONE]\n\n");
    }

    public static Task EmbeddingsAsync(HttpContext context, MockCall call, int inputs)
    {
        var data = new JsonArray();
        for (var i = 0; i < Math.Max(1, inputs); i++)
        {
            var vector = new JsonArray();
            for (var d = 0; d < 8; d++)
            {
                vector.Add(Math.Round(Math.Sin((call.InputTokens * 31) + (i * 7) + d), 6));
            }

            data.Add(new JsonObject { ["object"] = "embedding", ["index"] = i, ["embedding"] = vector });
        }

        return JsonAsync(context, new JsonObject
        {
            ["object"] = "list",
            ["data"] = data,
            ["model"] = call.Model,
            ["usage"] = new JsonObject { ["prompt_tokens"] = call.InputTokens, ["total_tokens"] = call.InputTokens },
        });
    }

    public static async Task ResponsesAsync(HttpContext context, MockCall call, Func<Task> afterFirstChunk)
    {
        var id = $"resp_mock_{call.Sequence}";
        var messageId = $"msg_mock_{call.Sequence}";
        JsonObject Response(string status, bool complete) => new()
        {
            ["id"] = id,
            ["object"] = "response",
            ["created_at"] = Created,
            ["status"] = status,
            ["model"] = call.Model,
            ["output"] = complete
                ? new JsonArray(new JsonObject
                {
                    ["type"] = "message",
                    ["id"] = messageId,
                    ["status"] = "completed",
                    ["role"] = "assistant",
                    ["content"] = new JsonArray(new JsonObject { ["type"] = "output_text", ["text"] = call.Text, ["annotations"] = new JsonArray() }),
                })
                : new JsonArray(),
            ["usage"] = complete
                ? new JsonObject
                {
                    ["input_tokens"] = call.InputTokens,
                    ["input_tokens_details"] = new JsonObject { ["cached_tokens"] = call.CachedInputTokens },
                    ["output_tokens"] = call.OutputTokens,
                    ["total_tokens"] = call.InputTokens + call.OutputTokens,
                }
                : null,
        };

        if (!call.Stream)
        {
            await JsonAsync(context, Response("completed", complete: true));
            return;
        }

        StartEvents(context);
        await EventAsync(context, "response.created", new JsonObject { ["type"] = "response.created", ["response"] = Response("in_progress", complete: false) });
        for (var i = 0; i < call.AnswerWords.Count; i++)
        {
            await EventAsync(context, "response.output_text.delta", new JsonObject
            {
                ["type"] = "response.output_text.delta",
                ["item_id"] = messageId,
                ["output_index"] = 0,
                ["content_index"] = 0,
                ["delta"] = Word(call, i),
            });
            if (i == 0)
            {
                await afterFirstChunk();
            }
        }

        await EventAsync(context, "response.completed", new JsonObject { ["type"] = "response.completed", ["response"] = Response("completed", complete: true) });
    }

    public static async Task MessagesAsync(HttpContext context, MockCall call, Func<Task> afterFirstChunk)
    {
        var id = $"msg_mock_{call.Sequence}";
        if (!call.Stream)
        {
            var content = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = call.Text });
            if (call.ToolUse is { } tool)
            {
                content.Add(new JsonObject { ["type"] = "tool_use", ["id"] = $"toolu_mock_{call.Sequence}", ["name"] = tool.Name, ["input"] = JsonNode.Parse(tool.Input) });
            }

            await JsonAsync(context, new JsonObject
            {
                ["id"] = id,
                ["type"] = "message",
                ["role"] = "assistant",
                ["model"] = call.Model,
                ["content"] = content,
                ["stop_reason"] = call.ToolUse is null ? "end_turn" : "tool_use",
                ["stop_sequence"] = null,
                ["usage"] = AnthropicUsage(call, call.OutputTokens),
            });
            return;
        }

        StartEvents(context);
        await EventAsync(context, "message_start", new JsonObject
        {
            ["type"] = "message_start",
            ["message"] = new JsonObject
            {
                ["id"] = id,
                ["type"] = "message",
                ["role"] = "assistant",
                ["model"] = call.Model,
                ["content"] = new JsonArray(),
                ["stop_reason"] = null,
                ["stop_sequence"] = null,
                ["usage"] = AnthropicUsage(call, 1),
            },
        });
        await EventAsync(context, "content_block_start", new JsonObject
        {
            ["type"] = "content_block_start",
            ["index"] = 0,
            ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" },
        });
        await EventAsync(context, "ping", new JsonObject { ["type"] = "ping" });
        for (var i = 0; i < call.AnswerWords.Count; i++)
        {
            await EventAsync(context, "content_block_delta", new JsonObject
            {
                ["type"] = "content_block_delta",
                ["index"] = 0,
                ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = Word(call, i) },
            });
            if (i == 0)
            {
                await afterFirstChunk();
            }
        }

        await EventAsync(context, "content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = 0 });
        await EventAsync(context, "message_delta", new JsonObject
        {
            ["type"] = "message_delta",
            ["delta"] = new JsonObject { ["stop_reason"] = "end_turn", ["stop_sequence"] = null },
            ["usage"] = new JsonObject { ["output_tokens"] = call.OutputTokens },
        });
        await EventAsync(context, "message_stop", new JsonObject { ["type"] = "message_stop" });
    }

    /// <summary>An error reported inside a stream already under way, in the provider's own shape.</summary>
    public static Task StreamErrorAsync(HttpContext context, bool anthropic) => anthropic
        ? EventAsync(context, "error", new JsonObject
        {
            ["type"] = "error",
            ["error"] = new JsonObject { ["type"] = "overloaded_error", ["message"] = "Overloaded" },
        })
        : DataAsync(context, new JsonObject
        {
            ["error"] = new JsonObject { ["message"] = "The server had an error while processing your request.", ["type"] = "server_error" },
        });

    public static Task ErrorAsync(HttpContext context, int status, string message, bool anthropic)
    {
        context.Response.StatusCode = status;
        var error = new JsonObject { ["message"] = message, ["type"] = status == 429 ? "rate_limit_error" : status >= 500 ? "api_error" : "invalid_request_error" };
        return JsonAsync(context, anthropic ? new JsonObject { ["type"] = "error", ["error"] = error } : new JsonObject { ["error"] = error }, status);
    }

    public static Task JsonAsync(HttpContext context, JsonObject body, int status = 200)
    {
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = bytes.Length;
        return context.Response.Body.WriteAsync(bytes).AsTask();
    }

    // Anthropic counts cache reads and writes beside input_tokens, not within them.
    private static JsonObject AnthropicUsage(MockCall call, int outputTokens) => new()
    {
        ["input_tokens"] = call.InputTokens - call.CachedInputTokens - call.CacheWriteInputTokens,
        ["cache_creation_input_tokens"] = call.CacheWriteInputTokens,
        ["cache_read_input_tokens"] = call.CachedInputTokens,
        ["cache_creation"] = new JsonObject
        {
            ["ephemeral_5m_input_tokens"] = call.CacheWriteInputTokens - call.CacheWriteOneHourInputTokens,
            ["ephemeral_1h_input_tokens"] = call.CacheWriteOneHourInputTokens,
        },
        ["output_tokens"] = outputTokens,
    };

    private static JsonObject OpenAIUsage(MockCall call) => new()
    {
        ["prompt_tokens"] = call.InputTokens,
        ["completion_tokens"] = call.OutputTokens,
        ["total_tokens"] = call.InputTokens + call.OutputTokens,
        ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = call.CachedInputTokens },
    };

    private static string Word(MockCall call, int index) => index == call.AnswerWords.Count - 1 ? call.AnswerWords[index] : call.AnswerWords[index] + " ";

    private static void StartEvents(HttpContext context)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
    }

    private static Task DataAsync(HttpContext context, JsonObject data) => RawAsync(context, "data: " + data.ToJsonString() + "\n\n");

    private static Task EventAsync(HttpContext context, string name, JsonObject data) =>
        RawAsync(context, "event: " + name + "\ndata: " + data.ToJsonString() + "\n\n");

    private static async Task RawAsync(HttpContext context, string text)
    {
        await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(text));
        await context.Response.Body.FlushAsync();
    }
}
