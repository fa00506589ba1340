-- PATCH cart/items/<id>/: the pool's lines in turn, each set to a random quantity 1..5.
dofile("bench/lua/common.lua")

local pool, turn

function init(args)
  pool, turn = own_pool(), 0
end

function request()
  turn = turn % #pool + 1
  local line = pool[turn]
  local body = string.format('{"quantity": %d}', math.random(1, 5))
  local headers = headers_of(line, {["Content-Type"] = "application/json"})
  return wrk.format("PATCH", "/api/v1/cart/items/" .. line.item .. "/", headers, body)
end
