-- wrk script: every request sends the next pre-computed body of $BODIES (one per line), each a fresh,
-- valid TOTP code of a distinct user, so every request takes the accepting path. Lines are dealt to the
-- threads round-robin. A response counts as accepted when it is a 200 whose body matches $OK_PATTERN
-- (a Lua pattern). $AUTH (an Authorization value) and $CONTENT_TYPE are optional. With $DELAY_MS each
-- connection waits that long before its next request (an open-ish loop for the soak).
-- done() prints one line "WRKJSON {...}" for bench/verifier_bench.py.

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  bodies = {}
  local i = 0
  for line in io.lines(os.getenv("BODIES")) do
    if i % nthreads == id - 1 then
      bodies[#bodies + 1] = line
    end
    i = i + 1
  end
  pos, ok, bad, wrapped = 0, 0, 0, 0
  ok_pattern = os.getenv("OK_PATTERN") or '"ok":%s*true'
  pause = tonumber(os.getenv("DELAY_MS") or "0")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/json"
  local auth = os.getenv("AUTH")
  if auth then
    wrk.headers["Authorization"] = auth
  end
end

function request()
  pos = pos + 1
  if pos > #bodies then
    pos = 1
    wrapped = wrapped + 1
  end
  return wrk.format(nil, nil, nil, bodies[pos])
end

function delay()
  return pause
end

function response(status, headers, body)
  if status == 200 and body and string.find(body, ok_pattern) then
    ok = ok + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_ok, total_bad, total_wrapped = 0, 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_bad = total_bad + thread:get("bad")
    total_wrapped = total_wrapped + thread:get("wrapped")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"ok":%d,"bad":%d,"wrapped":%d,"requests":%d,"duration_us":%d,"errors":%d,' ..
    '"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    total_ok, total_bad, total_wrapped, summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
