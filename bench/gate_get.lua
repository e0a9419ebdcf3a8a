-- wrk script for bench/gate_bench.py: GET with the Host and Cookie given in $HOST and $COOKIE, counting
-- 200 answers apart from the rest; with $DELAY_MS each connection waits that long before its next request
-- (a paced run, for latency below saturation). done() prints one line "WRKJSON {...}".

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok, bad = 0, 0
  pause = tonumber(os.getenv("DELAY_MS") or "0")
  wrk.method = "GET"
  wrk.headers["Host"] = os.getenv("HOST")
  local cookie = os.getenv("COOKIE")
  if cookie and cookie ~= "" then
    wrk.headers["Cookie"] = cookie
  end
end

function delay()
  return pause
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_bad = 0, 0
  for _, t in ipairs(threads) do
    total_ok = total_ok + t:get("ok")
    total_bad = total_bad + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format('WRKJSON {"ok": %d, "bad": %d, "requests": %d, "duration_us": %d, "errors": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d}\n', total_ok, total_bad, summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99)))
end
