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

dofile("benches/wrk_result.lua")
