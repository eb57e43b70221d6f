-- wrk script for bench/register.py; not meant to be run by hand.
--
--   wrk ... -s bench/register.lua <url> -- get  <result.json>
--   wrk ... -s bench/register.lua <url> -- post <result.json> <sessions.lua> <label>
--
-- "get" sends GET <url path>.  "post" sends a single-attendee registration per
-- request: sessions.lua (written by register.py) holds one session per client
-- connection, each a session cookie and a urlencoded form body whose CSRF token
-- belongs to that cookie, obtained by a real GET of the form page.  The body ends
-- with "unit_name=<prefix>", to which each request appends "<label><thread>-<n>",
-- so every registration has its own unit name.
--
-- Every thread counts the responses by status, the POSTs written, and keeps the
-- private-link token of each 302 (Location: /r/<token>); done() writes all of it
-- with wrk's own latency percentiles as JSON into <result.json>.

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("id", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

function init(args)
   mode = args[1]
   out_path = args[2]
   statuses = {}
   tokens = {}
   sent = 0
   if mode == "post" then
      local data = dofile(args[3])
      label = args[4] or ""
      path = data.path
      prefix = data.name_prefix
      mine = {}
      -- Thread k takes sessions k+1, k+1+T, k+1+2T, ... (T = data.threads).
      for i = id + 1, #data.sessions, data.threads do
         table.insert(mine, data.sessions[i])
      end
      if #mine == 0 then mine = data.sessions end
   end
end

function request()
   if mode ~= "post" then
      return wrk.format("GET")
   end
   sent = sent + 1
   local s = mine[(sent - 1) % #mine + 1]
   return wrk.format("POST", path, {
      ["Cookie"] = s.cookie,
      ["Content-Type"] = "application/x-www-form-urlencoded",
   }, s.body .. prefix .. label .. id .. "-" .. sent)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status == 302 then
      local location = headers["Location"] or headers["location"] or ""
      local token = string.match(location, "/r/([^/?#]+)$")
      if token then tokens[#tokens + 1] = token end
   end
end

local function json_string(s)
   return '"' .. string.gsub(tostring(s), '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end) .. '"'
end

function done(summary, latency, requests)
   local out_path = nil
   local all_statuses, all_tokens, all_sent = {}, {}, 0
   for _, thread in ipairs(threads) do
      out_path = out_path or thread:get("out_path")
      for status, n in pairs(thread:get("statuses")) do
         all_statuses[status] = (all_statuses[status] or 0) + n
      end
      for _, token in ipairs(thread:get("tokens")) do
         all_tokens[#all_tokens + 1] = token
      end
      all_sent = all_sent + thread:get("sent")
   end
   local parts = {}
   for status, n in pairs(all_statuses) do
      parts[#parts + 1] = string.format('"%d": %d', status, n)
   end
   local quoted = {}
   for i, token in ipairs(all_tokens) do quoted[i] = json_string(token) end
   local e = summary.errors
   local json = string.format(
      '{"requests": %d, "duration_us": %d, "sent": %d, ' ..
      '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
      '"non_2xx_3xx": %d, "latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, ' ..
      '"mean": %.1f}, "statuses": {%s}, "tokens": [%s]}',
      summary.requests, summary.duration, all_sent, e.connect, e.read, e.write, e.timeout,
      e.status, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean, table.concat(parts, ", "), table.concat(quoted, ", "))
   local f = assert(io.open(out_path, "w"))
   f:write(json)
   f:close()
end
