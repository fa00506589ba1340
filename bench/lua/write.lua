-- The write baseline: POST /bench/write/<id>/ for a random product.
dofile("bench/lua/common.lua")

local caller = {ip = "10.255.0.1"}

function request()
  return wrk.format("POST", string.format("/bench/write/%d/", random_product()), headers_of(caller))
end
