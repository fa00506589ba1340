-- GET the URL given to wrk, nothing else (the health baseline).
dofile("bench/lua/common.lua")
