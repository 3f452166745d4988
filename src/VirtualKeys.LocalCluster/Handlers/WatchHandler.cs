using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using VirtualKeys.LocalCluster.Api;
using VirtualKeys.LocalCluster.Errors;
using VirtualKeys.LocalCluster.Registry;
using VirtualKeys.LocalCluster.Selectors;
using VirtualKeys.LocalCluster.Storage;

namespace VirtualKeys.LocalCluster.Handlers;

/// <summary>
/// Serves ?watch=true: newline-delimited WatchEvents over a chunked response, replay from a
/// resourceVersion within the history window (an ERROR event with a 410 Expired Status past
/// it), synthetic ADDED events for the initial state, bookmarks, timeoutSeconds, and
/// selectors that turn modifications into ADDED/DELETED as objects enter or leave them.
/// </summary>
internal sealed class WatchHandler
{
    private readonly ObjectStore _store;
    private readonly TableConverter _tables;
    private readonly LocalApiServerOptions _options;

    public WatchHandler(ObjectStore store, TableConverter tables, LocalApiServerOptions options)
    {
        _store = store;
        _tables = tables;
        _options = options;
    }

    public async Task ServeAsync(HttpContext context, ResourceType type, string? ns, LabelSelector labels, FieldSelector fields, AcceptHeader accept)
    {
        var query = context.Request.Query;
        var rvText = query["resourceVersion"].ToString();
        var sendInitialEvents = query["sendInitialEvents"].ToString() == "true";
        var bookmarks = query["allowWatchBookmarks"].ToString() is "true" or "1";
        long? since = null;
        if (rvText.Length > 0 && rvText != "0")
        {
            if (!long.TryParse(rvText, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                throw ApiErrors.BadRequest($"invalid resource version: {rvText}");
            }

            since = parsed;
        }

        var initial = sendInitialEvents || since is null;
        var timeout = query["timeoutSeconds"].ToString() is { Length: > 0 } timeoutText
            && int.TryParse(timeoutText, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            && seconds > 0
            ? TimeSpan.FromSeconds(seconds)
            : _options.DefaultWatchTimeout;

        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-cache, private";

        Watcher watcher;
        try
        {
            watcher = _store.Subscribe(type.StorageKey, type.Namespaced ? ns : null, since, initial);
        }
        catch (ApiException e) when (e.Code == 410)
        {
            var frame = WatchEvent.BuildFrame("ERROR", JsonSerializer.SerializeToUtf8Bytes(e.ToStatus()));
            await context.Response.Body.WriteAsync(frame, context.RequestAborted);
            return;
        }

        // The timeout only ends waiting; writes are cancelled only by the client going away, so a
        // timed-out watch ends with a clean end of stream rather than an aborted connection.
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        lifetime.CancelAfter(timeout);
        var token = lifetime.Token;
        var writeToken = context.RequestAborted;
        try
        {
            await context.Response.StartAsync(writeToken);
            await context.Response.Body.FlushAsync(writeToken);
            var state = new StreamState(watcher.InitialEventCount, sendInitialEvents && bookmarks);
            if (state.InitialRemaining == 0 && state.AnnounceInitialEnd)
            {
                await WriteBookmarkAsync(context, type, watcher, initialEnd: true, writeToken);
                state.AnnounceInitialEnd = false;
            }

            // Events already queued (the initial state above all) are written before the timeout is
            // looked at, so a short or late-starting watch still delivers what it was promised.
            var nextBookmark = DateTime.UtcNow + _options.BookmarkInterval;
            while (true)
            {
                if (await WriteQueuedAsync(context, type, watcher, labels, fields, accept, state, token, writeToken))
                {
                    await context.Response.Body.FlushAsync(writeToken);
                }

                if (token.IsCancellationRequested)
                {
                    break;
                }

                // Only a watch that allows bookmarks waits with a deadline (Timeout.InfiniteTimeSpan
                // is negative, so it must not be clamped like an overdue bookmark).
                var wait = bookmarks ? TimeSpan.FromTicks(Math.Max(0, (nextBookmark - DateTime.UtcNow).Ticks)) : Timeout.InfiniteTimeSpan;

                bool available;
                using (var waitToken = CancellationTokenSource.CreateLinkedTokenSource(token))
                {
                    if (wait != Timeout.InfiniteTimeSpan)
                    {
                        waitToken.CancelAfter(wait);
                    }

                    try
                    {
                        available = await watcher.Events.WaitToReadAsync(waitToken.Token);
                    }
                    catch (OperationCanceledException) when (!token.IsCancellationRequested)
                    {
                        await WriteBookmarkAsync(context, type, watcher, initialEnd: false, writeToken);
                        nextBookmark = DateTime.UtcNow + _options.BookmarkInterval;
                        continue;
                    }
                }

                if (!available)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Timeout or client gone: the stream simply ends, as on a real server.
        }
        finally
        {
            _store.Unsubscribe(watcher);
        }
    }

    /// <summary>
    /// Writes the events queued so far; true when anything was written. Past the watch's timeout it
    /// stops once the initial state is written, even with more queued: changes that come faster than
    /// the client reads would otherwise keep it here, and the watch open, for as long as they come.
    /// The client watches again from the last resource version it read, as after any timeout.
    /// </summary>
    private async Task<bool> WriteQueuedAsync(HttpContext context, ResourceType type, Watcher watcher, LabelSelector labels, FieldSelector fields, AcceptHeader accept, StreamState state, CancellationToken timeout, CancellationToken token)
    {
        var wrote = false;
        while ((state.InitialRemaining > 0 || !timeout.IsCancellationRequested) && watcher.Events.TryRead(out var change))
        {
            var frame = Project(type, change, labels, fields, accept, state);
            if (frame is not null)
            {
                await context.Response.Body.WriteAsync(frame, token);
                wrote = true;
            }

            if (state.InitialRemaining > 0 && --state.InitialRemaining == 0 && state.AnnounceInitialEnd)
            {
                await WriteBookmarkAsync(context, type, watcher, initialEnd: true, token);
                state.AnnounceInitialEnd = false;
            }
        }

        return wrote;
    }

    private byte[]? Project(ResourceType type, WatchEvent change, LabelSelector labels, FieldSelector fields, AcceptHeader accept, StreamState state)
    {
        bool Matches(StoredObject o) => labels.Matches(o.Labels) && fields.Matches(o);
        string? eventType;
        if (labels.IsEmpty && fields.IsEmpty)
        {
            eventType = WatchEvent.TypeName(change.Type);
        }
        else
        {
            var now = Matches(change.Object);
            var before = change.Previous is { } previous && Matches(previous);
            eventType = change.Type switch
            {
                WatchEventType.Added => now ? "ADDED" : null,
                WatchEventType.Deleted => before || now ? "DELETED" : null,
                _ => (before, now) switch
                {
                    (true, true) => "MODIFIED",
                    (false, true) => "ADDED",
                    (true, false) => "DELETED",
                    _ => null,
                },
            };
        }

        if (eventType is null)
        {
            return null;
        }

        if (accept.Form == ResponseForm.Json && type.ServesStorageForm && eventType == WatchEvent.TypeName(change.Type))
        {
            return change.Frame;
        }

        byte[] body;
        switch (accept.Form)
        {
            case ResponseForm.Table:
                var table = _tables.Build(type, [change.Object], accept.MetaVersion, null, change.ResourceVersion, null, null);
                if (state.ColumnsSent)
                {
                    table["columnDefinitions"] = new JsonArray();
                }

                state.ColumnsSent = true;
                body = JsonSerializer.SerializeToUtf8Bytes(table);
                break;
            case ResponseForm.PartialObjectMetadata:
                body = JsonSerializer.SerializeToUtf8Bytes(TableConverter.PartialMetadata(change.Object, accept.MetaVersion));
                break;
            default:
                body = ObjectRenderer.Render(type, change.Object);
                break;
        }

        return WatchEvent.BuildFrame(eventType, body);
    }

    private async Task WriteBookmarkAsync(HttpContext context, ResourceType type, Watcher watcher, bool initialEnd, CancellationToken token)
    {
        var metadata = new JsonObject
        {
            ["resourceVersion"] = _store.BookmarkRevision(watcher).ToString(CultureInfo.InvariantCulture),
            ["creationTimestamp"] = null,
        };
        if (initialEnd)
        {
            metadata["annotations"] = new JsonObject { ["k8s.io/initial-events-end"] = "true" };
        }

        var bookmark = new JsonObject { ["kind"] = type.Kind, ["apiVersion"] = type.ApiVersion, ["metadata"] = metadata };
        await context.Response.Body.WriteAsync(WatchEvent.BuildFrame("BOOKMARK", JsonSerializer.SerializeToUtf8Bytes(bookmark)), token);
        await context.Response.Body.FlushAsync(token);
    }

    private sealed class StreamState(int initialRemaining, bool announceInitialEnd)
    {
        public int InitialRemaining { get; set; } = initialRemaining;

        public bool AnnounceInitialEnd { get; set; } = announceInitialEnd;

        public bool ColumnsSent { get; set; }
    }
}
