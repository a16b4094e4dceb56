-- wrk script: send pre-signed Standard Webhooks requests, each webhook id once per pass over the file.
-- Usage: wrk -t T -c C -d D -s bench/wrk_signed.lua URL -- REQUESTS_FILE T
-- REQUESTS_FILE has one request per line: webhook-id TAB webhook-timestamp TAB webhook-signature TAB body.
-- Thread t sends lines t, t+T, t+2T, ...; `wrapped` counts passes restarted (ids re-sent: duplicates).
-- done() prints one line, "WRK_RESULT {json}", that bench/ingest.py reads.

local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  requests = {}
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == tid then
      local id, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", wrk.path, {
        ["webhook-id"] = id,
        ["webhook-timestamp"] = ts,
        ["webhook-signature"] = sig,
        ["Content-Type"] = "application/json",
      }, body)
    end
    i = i + 1
  end
  index, wrapped, accepted, duplicate, other = 0, 0, 0, 0, 0
end

function request()
  index = index + 1
  if index > #requests then
    index, wrapped = 1, wrapped + 1
  end
  return requests[index]
end

function response(status, headers, body)
  if status == 202 then
    if string.find(body, '"duplicate"', 1, true) then
      duplicate = duplicate + 1
    else
      accepted = accepted + 1
    end
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local acc, dup, oth, wrap = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    acc = acc + t:get("accepted")
    dup = dup + t:get("duplicate")
    oth = oth + t:get("other")
    wrap = wrap + t:get("wrapped")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_s": %.6f, "p50_ms": %.3f, "p99_ms": %.3f, "mean_ms": %.3f, ' ..
    '"max_ms": %.3f, "accepted": %d, "duplicate": %d, "other_status": %d, "wrapped": %d, ' ..
    '"socket_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    latency.mean / 1e3, latency.max / 1e3, acc, dup, oth, wrap,
    e.connect + e.read + e.write, e.timeout))
end
