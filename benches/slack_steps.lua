-- wrk script: POST pre-signed clicks or thread replies, one per started decision, read from
-- the file named by $REQUESTS (written by `slack_bench steps`, one request per line:
-- path, timestamp, signature, content type and body, tab-separated), in order. Past the
-- last line it starts over: a repeat is Slack's retry, acted on once.
local requests = {}
local next_one = 0

init = function(args)
  for line in io.lines(os.getenv("REQUESTS")) do
    local path, ts, sig, ctype, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", path, {
      ["Content-Type"] = ctype,
      ["X-Slack-Request-Timestamp"] = ts,
      ["X-Slack-Signature"] = sig,
    }, body)
  end
end

request = function()
  next_one = next_one % #requests + 1
  return requests[next_one]
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
