-- The whole path, over and over: register, sign in, add one product, check out.
-- Run with one connection per thread, so each thread's responses come in request order:
-- request() sends the current step, response() moves to the next (or starts over on error).
dofile("bench/lua/common.lua")

local PASSWORD = "bench path passphrase"
local step, shopper, token = 1, 0, ""
local tag = os.getenv("BENCH_TAG") or "run"

local function username()
  return string.format("path-%s-%d-%d", tag, id, shopper)
end

function init(args)
  math.randomseed(os.time() + id * 7919)
end

function request()
  local caller = {ip = address(65536 * 200 + id)}
  local headers = headers_of(caller, {["Content-Type"] = "application/json"})
  if step == 1 then
    local body = string.format('{"username": "%s", "password": "%s"}', username(), PASSWORD)
    return wrk.format("POST", "/api/v1/auth/register/", headers, body)
  elseif step == 2 then
    local body = string.format('{"username": "%s", "password": "%s"}', username(), PASSWORD)
    return wrk.format("POST", "/api/v1/auth/token/", headers, body)
  end
  headers["Authorization"] = "Bearer " .. token
  if step == 3 then
    local body = string.format('{"product_id": %d, "quantity": 1}', random_product())
    return wrk.format("POST", "/api/v1/cart/items/", headers, body)
  end
  return wrk.format("POST", "/api/v1/cart/checkout/", headers, "{}")
end

function response(status, headers, body)
  count(status, headers)
  if status < 200 or status > 299 then
    step, shopper = 1, shopper + 1
  elseif step == 2 then
    token, step = body:match('"access"%s*:%s*"([^"]+)"') or "", 3
  elseif step == 4 then
    step, shopper, paths = 1, shopper + 1, paths + 1
  else
    step = step + 1
  end
end
