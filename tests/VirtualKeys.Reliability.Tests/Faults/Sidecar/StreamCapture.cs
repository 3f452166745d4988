using System.Text;
using System.Text.Json;
using VirtualKeys.Reliability.Tests.Support;

namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>
/// One streamed chat completion through the proxy, read as it arrives: its frames, whether the
/// connection failed, and how it ended.
/// </summary>
internal sealed class StreamCapture
{
    private readonly StringBuilder _text = new();
    private readonly Lock _gate = new();
    private Task _reading = Task.CompletedTask;

    private StreamCapture(int promptWords)
    {
        PromptWords = promptWords;
    }

    public int PromptWords { get; }

    public int Status { get; private set; }

    /// <summary>The connection failed while the body was read (as opposed to ending normally).</summary>
    public bool ReadFailed { get; private set; }

    public string Text
    {
        get
        {
            lock (_gate)
            {
                return _text.ToString();
            }
        }
    }

    /// <summary>Sends the request and starts reading the body in the background once the headers are in.</summary>
    public static async Task<StreamCapture> StartAsync(HttpClient client, string token, string model, int promptWords, CancellationToken cancellationToken)
    {
        var capture = new StreamCapture(promptWords);
        var request = ChatCall.Request(token, ChatCall.Body(model, promptWords, stream: true));
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        capture.Status = (int)response.StatusCode;
        capture._reading = capture.ReadAsync(request, response, cancellationToken);
        return capture;
    }

    /// <summary>Waits until at least <paramref name="frames"/> whole frames arrived (the stream is mid-way).</summary>
    public async Task WaitForFramesAsync(int frames, TimeSpan limit, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + limit;
        while (CountFrames(Text) < frames)
        {
            if (_reading.IsCompleted || DateTimeOffset.UtcNow > deadline)
            {
                throw new InvalidOperationException($"The stream of {PromptWords} words did not reach {frames} frames: {Text}");
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    public Task Finished => _reading;

    /// <summary>The usage the final chunk reported (input, output), if it came.</summary>
    public (long Input, long Output)? Usage()
    {
        foreach (var data in DataFrames(Text))
        {
            if (data == "[DONE]" || !IsJson(data))
            {
                continue;
            }

            using var document = JsonDocument.Parse(data);
            if (document.RootElement.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                return (usage.GetProperty("prompt_tokens").GetInt64(), usage.GetProperty("completion_tokens").GetInt64());
            }
        }

        return null;
    }

    public StreamEnding Ending()
    {
        var text = Text;
        var lastBoundary = text.LastIndexOf("\n\n", StringComparison.Ordinal);
        var tail = lastBoundary < 0 ? text : text[(lastBoundary + 2)..];
        var frames = DataFrames(text).ToList();
        var whole = tail.Length == 0 && frames.All(f => f == "[DONE]" || IsJson(f));
        var errorEvent = frames.Any(f => IsJson(f) && f.Contains("\"error\"", StringComparison.Ordinal));
        if (whole && frames.Count > 0 && frames[^1] == "[DONE]")
        {
            return StreamEnding.Complete;
        }

        return whole || errorEvent ? StreamEnding.CleanClose : StreamEnding.Truncated;
    }

    private static int CountFrames(string text) => DataFrames(text).Count();

    /// <summary>The data of every whole frame (ended by a blank line).</summary>
    private static IEnumerable<string> DataFrames(string text)
    {
        var end = text.LastIndexOf("\n\n", StringComparison.Ordinal);
        if (end < 0)
        {
            yield break;
        }

        foreach (var frame in text[..end].Split("\n\n"))
        {
            var data = string.Join('\n', frame.Split('\n').Where(l => l.StartsWith("data:", StringComparison.Ordinal)).Select(l => l[5..].TrimStart()));
            if (data.Length > 0)
            {
                yield return data;
            }
        }
    }

    private static bool IsJson(string text)
    {
        try
        {
            JsonDocument.Parse(text).Dispose();
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private async Task ReadAsync(HttpRequestMessage request, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            var buffer = new byte[4096];
            var decoder = Encoding.UTF8.GetDecoder();
            var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
            int read;
            while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
            {
                var count = decoder.GetChars(buffer, 0, read, chars, 0);
                lock (_gate)
                {
                    _text.Append(chars, 0, count);
                }
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            ReadFailed = true;
            SecretLedger.Observe("stream read failure", ex.ToString());
        }
        finally
        {
            SecretLedger.Observe("streamed answer", Text);
            response.Dispose();
            request.Dispose();
        }
    }
}
