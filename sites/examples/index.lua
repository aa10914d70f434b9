-- sites/examples — one page per classic Atto WebSite story. Start it with
--   atto sites/examples
-- and open http://localhost:8080/ : the home page links to every story.
-- Each section below is self-contained; copy the one you need.

local stories = {
  { "/", "Basic page" }, { "/hello.txt", "Static files (public/)" },
  { "/missing", "Error pages (404)" }, { "/boom", "Error pages (500)" },
  { "/get?name=Ann&color=green", "GET form variables" }, { "/post", "POST form" },
  { "/upload", "File upload" }, { "/cookies", "Headers and cookies (post-redirect-get)" },
  { "/counter", "Sessions (a counter)" }, { "/https", "HTTPS" },
  { "/timers", "Timers" }, { "/vhost", "Virtual hosting by Host header" },
  { "/ban", "Banning IPs" }, { "/template", "Templates" }, { "/api/items", "JSON API" },
  { "/hpack", "HPACK encode/decode" },
}

-- ---- middleware logging: runs around every request (onion style) -------
site:use(function(req, res, next)
  local t = atto.now()
  next()
  atto.log(("%s %s %s %d %.1fms"):format(req.remote_addr, req.method, req.path,
                                          res.status_code, (atto.now() - t) * 1000))
end)

-- ---- banning IPs: a middleware that answers 403 and stops the chain -----
-- The ban list lives in data/banned.txt (one address a line); atto.read
-- caches it and notices when another worker rewrites it.
local function banned()
  local list = {}
  for ip in (atto.read("data/banned.txt") or ""):gmatch("[^\n]+") do list[ip] = true end
  return list
end
site:use(function(req, res, next)
  if banned()[req.remote_addr] then
    return res:status(403):text("403 Forbidden: " .. req.remote_addr .. " is banned\n")
  end
  next()
end)

-- ---- virtual hosting: pick a site by the Host header --------------------
local blog, shop = atto.site(), atto.site()
blog:get("/", function(req, res) res:html("<h1>The blog</h1>") end)
blog:get("/post/{id}", function(req, res) res:html("<h1>Blog post " .. atto.escape(req.params.id) .. "</h1>") end)
shop:use(function(req, res, next) res:header("x-shop", "yes"); next() end)  -- its own middleware
shop:get("/", function(req, res) res:html("<h1>The shop</h1>") end)
local hosts = { ["blog.localhost"] = blog, ["shop.localhost"] = shop }
site:use(function(req, res, next)
  local name = (req.host or ""):lower():gsub(":%d+$", "")
  local sub = hosts[name]
  if sub then
    if not sub:serve(req, res) then res:status(404):text("404 Not Found on " .. name .. "\n") end
    return
  end
  next()
end)
site:mount("/blog", blog)   -- the same site is also reachable under a prefix
site:get("/vhost", function(req, res)
  res:html("<h1>Virtual hosts</h1><p>Try <code>curl -H 'Host: blog.localhost' ...</code>; "
    .. "this request came for host <b>" .. atto.escape(req.host or "") .. "</b>.</p>")
end)

-- ---- basic page ----------------------------------------------------------
site:get("/", function(req, res)
  local items = {}
  for _, s in ipairs(stories) do
    items[#items + 1] = ('<li><a href="%s">%s</a></li>'):format(atto.escape(s[1]), s[2])
  end
  res:html("<!doctype html><title>atto examples</title><link rel=stylesheet href=/style.css>"
    .. "<h1>Hello World!</h1><p>atto examples:</p><ul>" .. table.concat(items) .. "</ul>")
end)

-- ---- error pages ---------------------------------------------------------
site:error(404, function(req, res)
  res:html("<h1>Nothing here</h1><p>No page at " .. atto.escape(req.path) .. ".</p>")
end)
site:error(500, function(req, res, err)
  atto.log("500 page for " .. req.path)       -- err is the message: log it, never show it
  res:html("<h1>Sorry</h1><p>Something broke on our side.</p>")
end)
site:get("/boom", function(req, res) error("a bug in a handler") end)

-- ---- GET form variables --------------------------------------------------
site:get("/get", function(req, res)
  local q = req.query
  local color = type(q.color) == "table" and table.concat(q.color, ", ") or q.color
  res:html(([[<form><input name=name value="%s"> <input name=color value="%s"> <button>Go</button></form>
<p>name = %s, color = %s</p>]]):format(atto.escape(q.name or ""), atto.escape(color or ""),
    atto.escape(q.name or "(none)"), atto.escape(color or "(none)")))
end)

-- ---- HPACK: the header compression HTTP/2 uses, step by step -----------
-- Type headers ("name: value" a line) to see atto's encoder at work, or a
-- header block in hex to decode it; the trace shows every representation
-- and the dynamic table after each field.
local hpack = require "atto.hpack"
local function tohex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end
local function fromhex(h)
  h = h:gsub("%s", "")
  if #h % 2 == 1 or h:find("[^%x]") then return nil end
  return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end
site:get("/hpack", function(req, res)
  local text = req.query.headers or ":method: GET\n:scheme: https\n:path: /\n:authority: www.example.com"
  local fields = {}
  for line in text:gmatch("[^\r\n]+") do
    local name, value = line:match("^(:?[^:]+):%s*(.*)$")
    if name then fields[#fields + 1] = { name:lower(), value } end
  end
  local bytes, trace = hpack.encode(fields, { huffman = req.query.raw == nil })
  local out = { "<h1>HPACK</h1><form><textarea name=headers rows=6 cols=60>", atto.escape(text),
    "</textarea><br><label><input type=checkbox name=raw> no Huffman</label> <button>Encode</button></form>",
    "<p>", #fields, " fields → ", #bytes, " bytes:</p><pre id=hex>", tohex(bytes), "</pre><pre>",
    atto.escape(table.concat(trace, "\n")), "</pre>",
    "<form><input name=hex size=60 value='", tohex(bytes), "'> <button formaction=/hpack/decode>Decode</button></form>" }
  res:html(table.concat(out))
end)
site:get("/hpack/decode", function(req, res)
  local bytes = fromhex(req.query.hex or "")
  if not bytes then return res:status(400):html("<p>Give the header block as hex digits.</p>") end
  local fields, trace_or_err = hpack.decode(bytes)   -- nil, reason, trace on bad input
  if not fields then
    return res:status(400):html("<p>Not a valid header block: " .. atto.escape(trace_or_err) .. "</p>")
  end
  local rows = {}
  for _, f in ipairs(fields) do rows[#rows + 1] = atto.escape(f[1] .. ": " .. f[2]) end
  res:html("<h1>Decoded</h1><pre id=fields>" .. table.concat(rows, "\n") .. "</pre><pre>" ..
           atto.escape(table.concat(trace_or_err, "\n")) .. "</pre>")
end)

-- ---- POST form -----------------------------------------------------------
site:get("/post", function(req, res)
  res:html([[<form method=post><input name=name> <textarea name=msg></textarea> <button>Send</button></form>]])
end)
site:post("/post", function(req, res)
  local f = req.form
  if not f.name or f.name == "" then return res:status(400):html("<p>Please give a name.</p>") end
  res:html("<p>Thanks " .. atto.escape(f.name) .. ", you wrote: " .. atto.escape(f.msg or "") .. "</p>")
end)

-- ---- file upload ---------------------------------------------------------
site:get("/upload", function(req, res)
  res:html([[<form method=post enctype="multipart/form-data">
<input name=title> <input type=file name=file multiple> <button>Upload</button></form>]])
end)
site:post("/upload", function(req, res)
  local files = req.files.file
  if not files then return res:status(400):html("<p>No file was sent.</p>") end
  if files.filename then files = { files } end      -- one file, or several
  local out = { "<p>title: " .. atto.escape(req.form.title or "") .. "</p><ul>" }
  for _, f in ipairs(files) do
    out[#out + 1] = ("<li>%s (%s, %d bytes)</li>"):format(atto.escape(f.filename), atto.escape(f.type), f.size)
  end
  res:html(table.concat(out) .. "</ul>")
end)

-- ---- headers and cookies: post-redirect-get ------------------------------
site:get("/cookies", function(req, res)
  res:header("x-example", "cookies")
  res:html(("<p>Your browser: %s</p><p>Favourite color (cookie): %s</p>"
    .. "<form method=post><input name=color> <button>Remember</button></form>")
    :format(atto.escape(req:header("user-agent") or "?"), atto.escape(req.cookies.color or "(not set)")))
end)
site:post("/cookies", function(req, res)
  res:cookie("color", req.form.color or "", { max_age = 3600, httponly = true, samesite = "Lax" })
  res:redirect("/cookies", 303)
end)

-- ---- sessions: a counter kept on the server ------------------------------
site:get("/counter", function(req, res)
  local s = req.session
  s.count = (s.count or 0) + 1
  res:html("<p>You have seen this page " .. s.count .. " times.</p><a href=/counter/reset>reset</a>")
end)
site:get("/counter/reset", function(req, res)
  req:reset_session()
  res:redirect("/counter", 303)
end)

-- ---- HTTPS ---------------------------------------------------------------
site:get("/https", function(req, res)
  res:html("<p>This request came over <b>" .. req.scheme .. "</b> (" .. req.protocol .. ").</p>"
    .. "<p>atto serves HTTPS at once with a self-signed certificate for localhost kept in "
    .. "<code>.atto/</code>; give <code>--cert</code> and <code>--key</code> for a real one.</p>")
end)

-- ---- timers --------------------------------------------------------------
-- Each worker runs the site's timers in its own Lua state.
local ticks, fired = 0, false
site:every(0.2, function() ticks = ticks + 1 end)
site:get("/timers", function(req, res)
  local id = atto.after(0.1, function() fired = true end)
  atto.sleep(0.3)                         -- yields: the worker keeps serving others
  local cancelled = atto.cancel(atto.after(10, function() end))
  res:json{ ticks = ticks, after_fired = fired, after_id = id, cancelled = cancelled }
end)

-- ---- banning IPs: the admin side -----------------------------------------
site:get("/ban", function(req, res)
  res:html("<p>Banned: " .. atto.escape((atto.read("data/banned.txt") or ""):gsub("\n", " ")) .. "</p>")
end)
site:post("/ban", function(req, res)
  local ip = req.form.ip or ""
  if not ip:match("^[%x:.]+$") then return res:status(400):text("give an IP address\n") end
  local list = banned()
  if req.form.action == "unban" then list[ip] = nil else list[ip] = true end
  local lines = {}
  for k in pairs(list) do lines[#lines + 1] = k end
  table.sort(lines)
  assert(atto.write("data/banned.txt", table.concat(lines, "\n") .. "\n"))
  res:redirect("/ban", 303)
end)

-- ---- templates -----------------------------------------------------------
site:get("/template", function(req, res)
  res:render("views/page.html", { title = "Templates", user = req.query.user or "<guest>",
                                  items = { "etlua syntax", "escaped by default", "cached" } })
end)

-- ---- JSON API ------------------------------------------------------------
local items, next_id = {}, 1
site:get("/api/items", function(req, res) return items end)
site:post("/api/items", function(req, res)
  local item = req:json()
  if type(item) ~= "table" or type(item.name) ~= "string" then
    return res:status(422):json{ error = "an item needs a name" }
  end
  items[#items + 1] = { id = next_id, name = item.name }
  next_id = next_id + 1
  res:status(201):json(items[#items])
end)
