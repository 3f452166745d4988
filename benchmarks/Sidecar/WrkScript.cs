namespace VirtualKeys.Sidecar.Benchmarks;

/// <summary>
/// The Lua script every wrk run uses. Tokens come from environment variables (VK_BENCH_TOKENS_1, _2,
/// ... comma-separated), never from a file: they exist only in the memory of the processes. Each wrk
/// thread pre-formats one request per token and rotates through them from its own offset.
/// </summary>
/// <remarks>
/// VK_BENCH_KIND picks the request: <c>resolve</c> (token in the JSON body; each decision's usage is
/// reported by the thread's next request, as a router does), <c>chat</c> (token as Bearer),
/// <c>chat-plain</c> (no token: nginx adds the provider credential itself).
/// VK_BENCH_DELAY_MS paces each connection (wrk's <c>delay()</c> hook) for the half-load run: each pause
/// is drawn uniformly from half to one and a half times it.
/// The last line wrk prints is <c>WRK_RESULT {json}</c>, written by <c>done()</c>.
/// </remarks>
internal static class WrkScript
{
    public const string ResultPrefix = "WRK_RESULT ";

    public const string Text =
        """
        local kind = os.getenv("VK_BENCH_KIND") or "resolve"
        local pause = tonumber(os.getenv("VK_BENCH_DELAY_MS") or "0")
        local chat = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello to the benchmark"}],"max_tokens":16}'
        local json = {["Content-Type"] = "application/json"}
        local threads = {}
        local counter = 0

        function setup(thread)
            counter = counter + 1
            thread:set("id", counter)
            table.insert(threads, thread)
        end

        local prepared = {}
        local cursor = 0
        local decisions = {}
        resolves = 0
        reports = 0

        function init(args)
            local tokens = {}
            local chunk = 1
            while true do
                local value = os.getenv("VK_BENCH_TOKENS_" .. chunk)
                if value == nil then break end
                for token in string.gmatch(value, "[^,]+") do tokens[#tokens + 1] = token end
                chunk = chunk + 1
            end
            if kind == "chat-plain" or #tokens == 0 then
                prepared[1] = wrk.format("POST", nil, json, chat)
            elseif kind == "chat" then
                for i, token in ipairs(tokens) do
                    prepared[i] = wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, chat)
                end
            else
                for i, token in ipairs(tokens) do
                    prepared[i] = wrk.format("POST", "/v1/resolve", json, '{"virtualKey":"' .. token .. '","model":"gpt-4o-mini"}')
                end
            end
            cursor = ((id or 1) * 7919) % #prepared
            math.randomseed(os.time() * 1000 + (id or 1))
        end

        function request()
            local decision = table.remove(decisions)
            if decision ~= nil then
                reports = reports + 1
                return wrk.format("POST", "/v1/usage", json,
                    '{"decisionId":"' .. decision .. '","inputTokens":12,"outputTokens":8,"status":"success","latencyMs":1}')
            end
            if kind == "resolve" then resolves = resolves + 1 end
            cursor = cursor % #prepared + 1
            return prepared[cursor]
        end

        if kind == "resolve" then
            -- A router reports each decision's usage after its call: the next request of this thread
            -- reports it. Only a resolve answer has "key" right after its decision id.
            function response(status, headers, body)
                if status == 200 then
                    local decision = string.match(body, '^{"decisionId":"([^"]+)","key"')
                    if decision ~= nil then decisions[#decisions + 1] = decision end
                end
            end
        end

        if pause > 0 then
            -- A pause drawn around the mean, not the mean itself: connections that all wait exactly
            -- the same time stay in step and arrive in bursts, which is the load generator's doing.
            function delay()
                return math.floor(pause * (0.5 + math.random()) + 0.5)
            end
        end

        function done(summary, latency, requests)
            local e = summary.errors
            local resolved, reported = 0, 0
            for _, thread in ipairs(threads) do
                resolved = resolved + (thread:get("resolves") or 0)
                reported = reported + (thread:get("reports") or 0)
            end
            io.write(string.format(
                'WRK_RESULT {"requests":%d,"resolves":%d,"reports":%d,"durationUs":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"statusErrors":%d,"timeouts":%d,' ..
                '"meanUs":%.1f,"p50Us":%d,"p90Us":%d,"p99Us":%d,"p999Us":%d,"maxUs":%d}\n',
                summary.requests, resolved, reported, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
                latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
        end
        """;
}
