-- GET the URL given to wrk as the pool's callers, in turn.
dofile("bench/lua/common.lua")

local pool, turn

function init(args)
  pool, turn = own_pool(), 0
end

function request()
  turn = turn % #pool + 1
  return wrk.format("GET", nil, headers_of(pool[turn]))
end
