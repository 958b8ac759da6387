-- wrk script for bench/run.sh: rotates pre-formatted requests and counts
-- response statuses (wrk's own counter ignores 3xx, and a lost session on the
-- HTML home page shows up as a 303 to /login).
--
-- Environment:
--   BENCH_MODE  plain | bearer | cookie | login
--   BENCH_PATH  request path (plain, bearer, cookie)
--   BENCH_FILE  one credential per line: tokens (bearer), session cookies
--               (cookie) or logins (login); unused for plain
--   BENCH_PASSWORD  password for login mode (default "demo")

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

local function lines(path)
   local out = {}
   local f = assert(io.open(path, "r"), "cannot open " .. tostring(path))
   for line in f:lines() do
      line = line:gsub("%s+$", "")
      if line ~= "" then table.insert(out, line) end
   end
   f:close()
   assert(#out > 0, "no credentials in " .. path)
   return out
end

local function json_string(s)
   return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

local requests = {}
local idx = 0
s2xx, s3xx, s4xx, s5xx, sother = 0, 0, 0, 0, 0
first_bad = 0

function init(args)
   local mode = os.getenv("BENCH_MODE") or "plain"
   local path = os.getenv("BENCH_PATH") or "/"
   if mode == "plain" then
      requests[1] = wrk.format("GET", path)
   elseif mode == "bearer" then
      for _, t in ipairs(lines(os.getenv("BENCH_FILE"))) do
         table.insert(requests, wrk.format("GET", path, { ["Authorization"] = "Bearer " .. t }))
      end
   elseif mode == "cookie" then
      for _, c in ipairs(lines(os.getenv("BENCH_FILE"))) do
         table.insert(requests, wrk.format("GET", path, { ["Cookie"] = "preau_session=" .. c }))
      end
   elseif mode == "login" then
      local pw = os.getenv("BENCH_PASSWORD") or "demo"
      for _, l in ipairs(lines(os.getenv("BENCH_FILE"))) do
         local body = '{"login":' .. json_string(l) .. ',"password":' .. json_string(pw) .. '}'
         table.insert(requests, wrk.format("POST", "/api/v1/login",
            { ["Content-Type"] = "application/json" }, body))
      end
   else
      error("unknown BENCH_MODE " .. mode)
   end
   -- Threads start at different points of the list so they do not move in step.
   idx = ((id or 1) - 1) * math.floor(#requests / 2)
end

function request()
   idx = idx % #requests + 1
   return requests[idx]
end

function response(status, headers, body)
   if status >= 200 and status < 300 then s2xx = s2xx + 1
   else
      if status < 400 and status >= 300 then s3xx = s3xx + 1
      elseif status < 500 and status >= 400 then s4xx = s4xx + 1
      elseif status >= 500 then s5xx = s5xx + 1
      else sother = sother + 1 end
      if first_bad == 0 then first_bad = status end
   end
end

function done(summary, latency, requests)
   local ok, s3, s4, s5, so, bad = 0, 0, 0, 0, 0, 0
   for _, t in ipairs(threads) do
      ok = ok + (t:get("s2xx") or 0)
      s3 = s3 + (t:get("s3xx") or 0)
      s4 = s4 + (t:get("s4xx") or 0)
      s5 = s5 + (t:get("s5xx") or 0)
      so = so + (t:get("sother") or 0)
      local fb = t:get("first_bad") or 0
      if bad == 0 and fb ~= 0 then bad = fb end
   end
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_s=%.3f rps=%.1f bytes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "s2xx=%d non2xx=%d s3xx=%d s4xx=%d s5xx=%d first_bad=%d " ..
      "err_connect=%d err_read=%d err_write=%d err_timeout=%d err_status=%d\n",
      summary.requests, secs, summary.requests / secs, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      ok, s3 + s4 + s5 + so, s3, s4, s5, bad,
      e.connect, e.read, e.write, e.timeout, e.status))
end
