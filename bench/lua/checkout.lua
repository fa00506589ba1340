-- POST cart/checkout/: each of the pool's shoppers once, each with a cart filled beforehand
-- (bench/seed.py, checkout_carts), and a new Idempotency-Key, as the API asks of clients.
-- The harness makes the pool big enough for the run; past its end the carts are checked out
-- and the answers (409 cart_empty) count as errors.
dofile("bench/lua/common.lua")

local tag = os.getenv("BENCH_TAG") or "run"
local sent = 0

function request()
  sent = sent + 1
  local headers = headers_of(next_caller(), {
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("%s-%d-%d", tag, id, sent),
  })
  return wrk.format("POST", "/api/v1/cart/checkout/", headers, "{}")
end
