-- wrk script for bench/run.sh: POSTs the chat completion body in the file named by $BENCH_BODY
-- (the same file bench/loadgen sends) and prints one JSON summary line when done.
local path = os.getenv("BENCH_BODY")
local f = path and io.open(path, "rb")
if not f then
  error("chat.lua: set BENCH_BODY to a readable JSON body file")
end
local body = f:read("*a"):gsub("[\r\n]+$", "")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench"
if os.getenv("BENCH_STREAM") == "1" then
  wrk.headers["Accept"] = "text/event-stream"
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    '{"requests":%d,"duration_s":%.3f,"rps":%.1f,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
    '"err_status":%d,"err_timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, secs, summary.requests / secs, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
