-- PATCH cart/items/<id>/: the pool's lines in turn, each set to a random quantity 1..5.
dofile("bench/lua/common.lua")

function request()
  local line = next_caller()
  local body = string.format('{"quantity": %d}', math.random(1, 5))
  local headers = headers_of(line, {["Content-Type"] = "application/json"})
  return wrk.format("PATCH", "/api/v1/cart/items/" .. line.item .. "/", headers, body)
end
