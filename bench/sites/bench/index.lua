-- bench/sites/bench — the site `make bench` serves with atto. nginx and h2o
-- serve the same public/ folder: hello.txt (13 bytes) and 100k.bin
-- (102,400 bytes, written by bench/run). The two Lua routes are atto-only
-- workloads: a small page, and a session counter answered as JSON.

site:get("/lua", function(req, res)
  res:text("Hello World!\n")
end)

site:get("/session", function(req, res)
  local s = req.session
  s.count = (s.count or 0) + 1
  return { count = s.count }
end)
