-- GET the URL given to wrk as the pool's callers, in turn.
dofile("bench/lua/common.lua")

function request()
  return wrk.format("GET", nil, headers_of(next_caller()))
end
