-- POST cart/items/: the pool's callers in turn, each adding 1 of a random product.
dofile("bench/lua/common.lua")

function request()
  local body = string.format('{"product_id": %d, "quantity": 1}', random_product())
  local headers = headers_of(next_caller(), {["Content-Type"] = "application/json"})
  return wrk.format("POST", "/api/v1/cart/items/", headers, body)
end
