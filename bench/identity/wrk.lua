-- wrk script for bench/identity/run.sh, modelled on peer-keystone's wrk/report.lua so both servers are
-- driven and reported the same way.
-- Request shape from env: WRK_METHOD, WRK_BODY_FILE, WRK_HDR_1..8 ("Name: value").
-- WRK_STATUS=1 also counts responses per HTTP status (adds a Lua response() callback, which makes
-- wrk parse every response in Lua: a little more client CPU, so it is off for the measured runs).
-- done() prints one line: WRKJSON {...} (latencies in ms; non2xx3xx = wrk's status errors).
wrk.method = os.getenv("WRK_METHOD") or "GET"
local bf = os.getenv("WRK_BODY_FILE")
if bf and bf ~= "" then
  local f = assert(io.open(bf, "rb")); wrk.body = f:read("*a"); f:close()
end
for i = 1, 8 do
  local h = os.getenv("WRK_HDR_" .. i)
  if h and h ~= "" then
    local k, v = h:match("^([^:]+):%s*(.*)$")
    if k then wrk.headers[k] = v end
  end
end

local threads = {}
function setup(thread) table.insert(threads, thread) end

if os.getenv("WRK_STATUS") == "1" then
  statuses = {}
  function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local st = {}
  if os.getenv("WRK_STATUS") == "1" then
    local agg = {}
    for _, t in ipairs(threads) do
      local s = t:get("statuses")
      if s then for k, v in pairs(s) do agg[k] = (agg[k] or 0) + v end end
    end
    for k, v in pairs(agg) do table.insert(st, string.format('"%d":%d', k, v)) end
  end
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_s":%.3f,"rps":%.2f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_timeout":%d,"non2xx3xx":%d,"statuses":{%s}}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000,
    e.connect, e.read, e.write, e.timeout, e.status, table.concat(st, ",")))
end
