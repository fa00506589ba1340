-- POST cart/items/ {"items": [...]}: the pool's callers in turn, each adding 1 of each of 10
-- random products at once (a product drawn twice adds 2 to its line).
dofile("bench/lua/common.lua")

function request()
  local entries = {}
  for n = 1, 10 do
    entries[n] = string.format('{"product_id": %d}', random_product())
  end
  local body = '{"items": [' .. table.concat(entries, ", ") .. ']}'
  local headers = headers_of(next_caller(), {["Content-Type"] = "application/json"})
  return wrk.format("POST", "/api/v1/cart/items/", headers, body)
end
