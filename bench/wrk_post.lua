-- wrk script: POSTs one file's bytes on every request and counts the answers that are not 200.
--
--   BODY_FILE=bench/out/serve/tfs_1.json CONTENT_TYPE=application/json LABEL=emnist \
--   RESULT_FILE=bench/out/serve/runs.jsonl wrk -t2 -c32 -d10s --latency -s bench/wrk_post.lua URL
--
-- Environment: BODY_FILE (required), CONTENT_TYPE (default application/json), EXTRA_HEADER
-- ("Name: value", optional), LABEL (copied into the result), RESULT_FILE (optional: the result
-- is appended there as one JSON line; it is printed on stdout as `RESULT {...}` either way).

local path = os.getenv("BODY_FILE") or error("BODY_FILE is not set")
local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/json"
local extra = os.getenv("EXTRA_HEADER")
if extra and extra ~= "" then
  local k, v = extra:match("^([^:]+):%s*(.*)$")
  wrk.headers[k] = v
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok = 0
  non200 = 0
  first_bad = ""
end

function response(status, headers, resp_body)
  if status == 200 then
    ok = ok + 1
  else
    non200 = non200 + 1
    if first_bad == "" then
      first_bad = tostring(status) .. " " .. string.sub(resp_body or "", 1, 200)
    end
  end
end

local function jstr(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
  local n_ok, n_bad, bad = 0, 0, ""
  for _, t in ipairs(threads) do
    n_ok = n_ok + t:get("ok")
    n_bad = n_bad + t:get("non200")
    if bad == "" then bad = t:get("first_bad") end
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  local line = string.format(
    '{"label":%s,"requests":%d,"seconds":%.3f,"rps":%.1f,"bytes_read":%d,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f,"mean_ms":%.3f,"max_ms":%.3f,' ..
    '"ok_200":%d,"non200":%d,"first_non200":%s,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,"body_bytes":%d}',
    jstr(os.getenv("LABEL") or ""), summary.requests, secs, summary.requests / secs, summary.bytes,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency:percentile(99.9) / 1e3, latency.mean / 1e3, latency.max / 1e3,
    n_ok, n_bad, jstr(bad),
    e.connect, e.read, e.write, e.status, e.timeout, #body)
  io.write("RESULT " .. line .. "\n")
  local out = os.getenv("RESULT_FILE")
  if out and out ~= "" then
    local rf = assert(io.open(out, "a"))
    rf:write(line .. "\n")
    rf:close()
  end
end
