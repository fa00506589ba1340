-- DELETE cart/items/<id>/: each of the pool's lines once. The harness makes the pool big
-- enough for the run; past its end the lines are gone and the answers (404) count as errors.
dofile("bench/lua/common.lua")

local pool, turn

function init(args)
  pool, turn = own_pool(), 0
end

function request()
  turn = turn % #pool + 1
  local line = pool[turn]
  return wrk.format("DELETE", "/api/v1/cart/items/" .. line.item .. "/", headers_of(line))
end
