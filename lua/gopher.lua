-- gopher.lua — the Lua half of Gopher: `req` and `res` for site:gopher
-- routes, site:gopher_error, and the dispatcher lua/lgopher.c runs as a task
-- for every selector (atto._gopher_dispatch).
--
-- A selector is matched against the site's Gopher routes (and those of its
-- mounted subsites) with the web's pattern rules; no match falls through to
-- the SITE/gopher/ folder, then to the site's gopher_error handler (or a
-- plain "Not found" error item). The handle `h` is a to-be-closed variable:
-- when the handler returns or fails, C code ends the reply (see lgopher.c).
local core = ...
local G = require("atto.gopher")
local type, tostring, ipairs, setmetatable, error, concat = type, tostring, ipairs, setmetatable, error, table.concat
local Site = getmetatable(site)

-- site:gopher_error(function(req, res, message) ... end)
function Site:gopher_error(fn)
  if type(fn) ~= "function" then error("site:gopher_error: the handler must be a function(req, res, message)", 2) end
  self._gopher_error = fn
  return self
end

-- ---- res -----------------------------------------------------------------

local Res = {}
Res.__index = Res

local function str(v, what, level)
  if v == nil then return "" end
  local t = type(v)
  if t ~= "string" and t ~= "number" then error(what .. " must be a string, got " .. t, level + 1) end
  return tostring(v)
end

local function item_line(res, it, level)
  if type(it) ~= "table" then error("res:menu: each item is a table {type=, text=, selector=, host=, port=}", level + 1) end
  local t = str(it.type or it[1], "menu item type", level + 1)
  if t == "" then t = "1" end
  local port = it.port or res.port
  if math.tointeger(port) == nil then error("res:menu: port must be an integer, got " .. tostring(port), level + 1) end
  return G.item(t, str(it.text or it[2], "menu item text", level + 1),
                str(it.selector or it[3], "menu item selector", level + 1),
                str(it.host or res.host, "menu item host", level + 1), math.tointeger(port))
end

function Res:menu(items)
  if type(items) ~= "table" then error("res:menu takes a list of items", 2) end
  local lines = {}
  for i, it in ipairs(items) do
    local ok, line = pcall(item_line, self, it, 1)
    if not ok then error("res:menu item " .. i .. ": " .. tostring(line):gsub("^[^:]*:%d+: ", ""), 2) end
    lines[#lines + 1] = line
  end
  G.menu(self._h, concat(lines))
  return self
end

function Res:item(t, text, selector, host, port)
  G.menu(self._h, item_line(self, { type = t, text = text, selector = selector, host = host, port = port }, 2))
  return self
end

function Res:info(text)
  G.menu(self._h, G.info(str(text, "res:info text", 2)))
  return self
end

function Res:link(url, text)
  url = str(url, "res:link url", 2)
  G.menu(self._h, G.item("h", str(text or url, "res:link text", 2), "URL:" .. url, self.host, self.port))
  return self
end

function Res:error(msg)
  G.menu(self._h, G.error_item(str(msg, "res:error message", 2)))
  return self
end

function Res:text(s)
  G.text(self._h, str(s, "res:text", 2))
  return self
end

function Res:file(path)
  local full = atto._site_path(path)
  if not full then error("res:file: " .. tostring(path) .. " is outside the site folder", 2) end
  local ok, err = G.file(self._h, full)
  if ok == nil then error("res:file: " .. tostring(path) .. ": " .. err, 2) end
  return self
end

-- ---- dispatch --------------------------------------------------------------

local function find(s, selector, segs)
  for _, m in ipairs(s._mounts) do
    local p = m.prefix
    if selector == p or selector:sub(1, #p + 1) == p .. "/" then
      local rest = selector:sub(#p + 1)
      if rest == "" then rest = "/" end
      local fn, params = find(m.site, rest, atto._split(rest))
      if fn then return fn, params end
    end
  end
  for _, r in ipairs(s._gopher) do
    local params = atto._match_route(r, segs)
    if params then return r.fn, params end
  end
end

local function not_found(req, res, why)
  local fn = site._gopher_error
  if fn then
    local ret = fn(req, res, why)
    if type(ret) == "string" then res:error(ret) end
    return
  end
  res:error(why)
end

local function run(h, req, res)
  local _ <close> = h          -- C ends the reply, however this returns
  local fn, params = find(site, req.selector, atto._split(req.selector))
  if fn then
    req.params = params
    local ret = fn(req, res)
    local mode = G.mode(h)
    if mode == "none" then
      if type(ret) == "string" then res:text(ret)
      elseif type(ret) == "table" then res:menu(ret) end
    end
    return
  end
  local served, err = G.static(h)
  if served then return end
  not_found(req, res, err or ("Not found: " .. req.selector))
end

function atto._gopher_dispatch(h, selector, query, addr, host, port)
  local req = { selector = selector, query = query, params = {}, remote_addr = addr,
                host = host, port = port }
  local res = setmetatable({ _h = h, req = req, host = host, port = port }, Res)
  pcall(run, h, req, res)     -- errors are logged and answered by the handle's __close
end
