-- POST cart/items/: the pool's callers in turn, each adding 1 of a random product.
dofile("bench/lua/common.lua")

local pool, turn

function init(args)
  pool, turn = own_pool(), 0
end

function request()
  turn = turn % #pool + 1
  local body = string.format('{"product_id": %d, "quantity": 1}', random_product())
  local headers = headers_of(pool[turn], {["Content-Type"] = "application/json"})
  return wrk.format("POST", "/api/v1/cart/items/", headers, body)
end
