-- DELETE cart/items/<id>/: each of the pool's lines once. The harness makes the pool big
-- enough for the run; past its end the lines are gone and the answers (404) count as errors.
dofile("bench/lua/common.lua")

function request()
  local line = next_caller()
  return wrk.format("DELETE", "/api/v1/cart/items/" .. line.item .. "/", headers_of(line))
end
