-- wrk script of bench/run.sh: tools/call echo (or MCP_TOOL) in one
-- initialized MCP session (MCP_SESSION, empty for none), a JSON-RPC id
-- unique per request, and a check that every answer carries the echoed
-- text, JSON or SSE.  done() prints one "WRK key=value ..." line.

local session = os.getenv("MCP_SESSION") or ""
local tool = os.getenv("MCP_TOOL") or "echo"
local threads = {}

function setup(thread)
	table.insert(threads, thread)
	thread:set("tid", #threads)
end

function init(args)
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/json"
	wrk.headers["Accept"] = "application/json, text/event-stream"
	if session ~= "" then
		wrk.headers["Mcp-Session-Id"] = session
		wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
	end
	seq = tid * 1000000000
	bad = 0
end

-- Servers that route answers by request id (the MCP SDK's transport) need
-- ids that never repeat while in flight.
function request()
	seq = seq + 1
	return wrk.format(nil, nil, nil, string.format(
	    '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":' ..
	    '{"name":"%s","arguments":{"text":"bench"}}}', seq, tool))
end

function response(status, headers, body)
	if status ~= 200 or not string.find(body, '"text":"bench"', 1, true) then
		bad = bad + 1
	end
end

function done(summary, latency, requests)
	local nbad = 0
	for _, t in ipairs(threads) do
		nbad = nbad + (t:get("bad") or 0)
	end
	local e = summary.errors
	local secs = summary.duration / 1e6
	io.write(string.format("WRK requests=%d seconds=%.3f rps=%.1f " ..
	    "p50_us=%d p90_us=%d p99_us=%d max_us=%d errors=%d bad=%d\n",
	    summary.requests, secs, summary.requests / secs,
	    latency:percentile(50), latency:percentile(90),
	    latency:percentile(99), latency.max,
	    e.connect + e.read + e.write + e.status + e.timeout, nbad))
end
