-- prelude.lua — the Lua half of atto's web API, built on the C primitives in
-- lua/lcore.c (passed in as `core`). It defines the `atto` table, `site`
-- objects (routes, middleware, mounts, error pages, timers, listen), and the
-- `req`/`res` objects a handler sees. It returns the dispatcher the C side
-- calls once per request, and the error-page builder.
--
-- Routing: patterns are split into segments; an exact segment beats {x},
-- which beats *. Routes with no {x} or * sit in a hash for O(1) lookup.
local core = ...
local cjson = require("cjson")
local cjson_safe = require("cjson.safe")
local unpack, concat, insert = table.unpack, table.concat, table.insert
local type, pairs, ipairs, tostring, tonumber, error, setmetatable, rawset =
      type, pairs, ipairs, tostring, tonumber, error, setmetatable, rawset

atto = { json = { encode = cjson.encode, decode = cjson.decode, null = cjson.null } }
atto.escape, atto.urlencode, atto.now, atto.log = core.escape, core.urlencode, core.now, core.log
function atto.urldecode(s) return (core.urldecode(s, true)) end
atto._timers_at_load = {}

-- ---- sites and routes ----------------------------------------------------

local Site = {}
Site.__index = Site

local function compile(pattern)
  if type(pattern) ~= "string" or pattern:sub(1, 1) ~= "/" then
    error("a route pattern must be a string starting with '/': " .. tostring(pattern), 3)
  end
  local segs, score, dynamic = {}, {}, false
  for seg in pattern:gmatch("[^/]+") do
    local name = seg:match("^{([%w_]+)}$")
    if name then
      segs[#segs + 1] = { param = name }; score[#score + 1] = 2; dynamic = true
    elseif seg == "*" then
      segs[#segs + 1] = { rest = true }; score[#score + 1] = 3; dynamic = true
    else
      segs[#segs + 1] = { lit = seg }; score[#score + 1] = 1
    end
  end
  return { pattern = pattern, segs = segs, score = score, dynamic = dynamic,
           trailing = pattern ~= "/" and pattern:sub(-1) == "/" }
end

-- is a more specific than b? (segment by segment: literal < param < rest)
local function more_specific(a, b)
  local n = math.max(#a.score, #b.score)
  for i = 1, n do
    local x, y = a.score[i] or 0, b.score[i] or 0
    if x ~= y then
      if x == 0 then return false end
      if y == 0 then return true end
      return x < y
    end
  end
  return false
end

function atto.site()
  return setmetatable({ _exact = {}, _dyn = {}, _mw = {}, _mounts = {}, _errors = {},
                        _gopher = {} }, Site)
end

function Site:route(method, pattern, fn)
  if type(method) ~= "string" or not method:match("^[%w!#$%%&'*+.^_`|~-]+$") then
    error("site:route: method must be an HTTP token, got " .. tostring(method), 2)
  end
  if type(fn) ~= "function" then error("site:" .. method:lower() .. "(" .. tostring(pattern) .. "): the handler must be a function", 2) end
  local r = compile(pattern)
  r.method, r.fn = method:upper(), fn
  if not r.dynamic then
    local byp = self._exact[r.pattern] or {}
    self._exact[r.pattern] = byp
    byp[r.method] = fn
  else
    local list = self._dyn
    list[#list + 1] = r
    table.sort(list, more_specific)
  end
  return self
end
for _, m in ipairs({ "get", "post", "put", "patch", "delete", "options", "head" }) do
  Site[m] = function(self, pattern, fn) return self:route(m:upper(), pattern, fn) end
end

function Site:use(fn)
  if type(fn) ~= "function" then error("site:use: middleware must be a function(req, res, next)", 2) end
  self._mw[#self._mw + 1] = fn
  atto._any_middleware = true   -- static files must then pass through Lua
  return self
end

function Site:mount(prefix, sub)
  if type(prefix) ~= "string" or prefix:sub(1, 1) ~= "/" then error("site:mount: prefix must start with '/'", 2) end
  if getmetatable(sub) ~= Site then error("site:mount: the second argument must be a site from atto.site()", 2) end
  prefix = prefix:gsub("/+$", "")
  insert(self._mounts, { prefix = prefix, site = sub })
  table.sort(self._mounts, function(a, b) return #a.prefix > #b.prefix end)
  return self
end

function Site:error(code, fn)
  if type(fn) ~= "function" then error("site:error: the handler must be a function", 2) end
  self._errors[math.tointeger(code) or error("site:error: code must be an integer", 2)] = fn
  return self
end

function Site:every(s, fn) return atto.every(s, fn) end
function Site:after(s, fn) return atto.after(s, fn) end
function Site:listen(t)
  if type(t) ~= "table" then error("site:listen takes a table, e.g. site:listen{ http = 8080 }", 2) end
  atto._listen = atto._listen or {}
  for k, v in pairs(t) do atto._listen[k] = v end
  return self
end
function Site:gopher(pattern, fn)
  if type(fn) ~= "function" then error("site:gopher: the handler must be a function", 2) end
  local r = compile(pattern)
  r.fn = fn
  insert(self._gopher, r)
  table.sort(self._gopher, more_specific)
  atto._has_gopher = true
  return self
end

local function match_route(r, segs)
  local params = {}
  local n = #r.segs
  for i = 1, n do
    local s, p = r.segs[i], segs[i]
    if s.rest then
      params["*"] = concat(segs, "/", i)
      return params
    end
    if p == nil then return nil end
    if s.lit then
      if s.lit ~= p then return nil end
    else
      params[s.param] = p
    end
  end
  if #segs ~= n then return nil end
  return params
end

local function split(path)
  local segs = {}
  for seg in path:gmatch("[^/]+") do segs[#segs + 1] = seg end
  return segs
end

-- Find the handler for (method, path) in this site (not its mounts).
-- Returns fn, params (nil for an exact route)  |  nil, allow-list  |  nil
local function find(site, method, path)
  local byp = site._exact[path]
  local allow
  if byp then
    local fn = byp[method] or (method == "HEAD" and byp.GET)
    if fn then return fn end   -- no params: req.params makes {} if asked
    allow = {}
    for m in pairs(byp) do allow[#allow + 1] = m end
  end
  local dyn = site._dyn
  if #dyn > 0 then
    local segs = split(path)
    for i = 1, #dyn do
      local r = dyn[i]
      local params = match_route(r, segs)
      if params then
        if r.method == method or (method == "HEAD" and r.method == "GET") then return r.fn, params end
        allow = allow or {}
        allow[#allow + 1] = r.method
      end
    end
  end
  return nil, allow
end
atto._find = find
atto._split, atto._match_route = split, match_route

site = atto.site()

-- ---- request -------------------------------------------------------------

local Req = {}
local lazy = {}

-- `what` names the source for the 400 raised on bad percent-encoding
-- ("query string", "form"); without it a bad escape is kept as it came.
local function parse_pairs(s, sep, out, plus, what)
  out = out or {}
  if not s or s == "" then return out end
  for part in s:gmatch("[^" .. sep .. "]+") do
    local k, v = part:match("^([^=]*)=(.*)$")
    if not k then k, v = part, "" end
    local dk, dv = core.urldecode(k, plus), core.urldecode(v, plus)
    if (not dk or not dv) and what then
      error({ status = 400, message = "bad percent-encoding in the " .. what .. ": " .. part:sub(1, 100) }, 0)
    end
    k, v = dk or k, dv or v
    local old = out[k]
    if old == nil then out[k] = v
    elseif type(old) == "table" then old[#old + 1] = v
    else out[k] = { old, v } end
  end
  return out
end
atto._parse_pairs = parse_pairs

function lazy.headers(req) return core.headers(req._h) end
function lazy.id(req) return string.format("%x", req._id) end
function lazy.params(req) return {} end
-- connection facts come from the handle on first use (all at once)
local function conn_info(req, k)
  local host, scheme, protocol, addr, port, id = core.info(req._h)
  -- Req has no __newindex: plain stores are raw, without a C call each
  req.host, req.scheme, req.protocol = host, scheme, protocol
  req.remote_addr, req.remote_port, req._id = addr, port, id
  return rawget(req, k)
end
for _, k in ipairs{ "host", "scheme", "protocol", "remote_addr", "remote_port", "_id" } do
  lazy[k] = function(req) return conn_info(req, k) end
end
function lazy.query(req)
  local t = req.raw_path
  local q = t:find("?", 1, true)
  return parse_pairs(q and t:sub(q + 1) or "", "&", nil, true, "query string")
end
function lazy.cookies(req)
  local out = {}
  local c = req:header("cookie")
  if c then
    for part in c:gmatch("[^;]+") do
      -- (.*%S) trims the end in one step; (.-)%s*$ retried the tail at every
      -- character and cost ~40k instructions for one 64-character cookie
      local k, v = part:match("^%s*([^=%s]+)%s*=%s*(.*)$")
      if v then v = v:match("^(.*%S)") or "" end
      if k and (not k:match("^[%w!#$%%&'*+.^_`|~-]+$") or v:find("[%c]")) then k = nil end
      if k and out[k] == nil then
        if v:sub(1, 1) == '"' and v:sub(-1) == '"' and #v >= 2 then v = v:sub(2, -2) end
        out[k] = core.urldecode(v, false) or v
      end
    end
  end
  return out
end
function lazy.form(req)
  local raw_ct = req.headers["content-type"] or ""
  local ct = raw_ct:lower()
  if ct:find("application/x-www-form-urlencoded", 1, true) then
    return parse_pairs(req.body, "&", nil, true, "form")
  end
  if ct:find("multipart/form-data", 1, true) and atto._multipart then
    local form, files = atto._multipart(req, raw_ct)
    rawset(req, "files", files)
    return form
  end
  return {}
end
function lazy.files(req)
  local _ = req.form
  return rawget(req, "files") or {}
end
function lazy.session(req)
  if atto._session then return atto._session(req) end
  return {}
end

Req.__index = function(req, k)
  local f = lazy[k]
  if f then
    local v = f(req)
    req[k] = v   -- raw: Req has no __newindex
    return v
  end
  return Req[k]
end

function Req.header(req, name)
  local t = rawget(req, "headers")   -- built already, else one header from C
  if t then return t[name:lower()] end
  return core.header(req._h, name:lower())
end
function Req.json(req)
  local v, err = cjson_safe.decode(req.body)
  if v == nil and err then
    error({ status = 400, message = "invalid JSON in the request body: " .. err }, 2)
  end
  return v
end

-- ---- response ------------------------------------------------------------

-- A response's own fields: req, _started, _done, and status_code and _hdr
-- (the header list) once set; the defaults below, read through __index,
-- spare every request two keys. The handle is res.req._h.
local Res = { status_code = 200, _hdr = false }
Res.__index = Res

-- tostring(s), refused if it has CR, LF or NUL (one C call: the pattern
-- "[\r\n%z]" cost ~20 instructions a character, ~1k for a session id)
local function check_header_text(s, what)
  local t = core.header_text(s)
  if not t then error(what .. " contains CR, LF or NUL", 3) end
  return t
end

function Res:status(code)
  code = math.tointeger(code)
  if not code or code < 100 or code > 999 then error("res:status: a status is an integer 100-999", 2) end
  self.status_code = code
  return self
end

-- The header list (flat name, value pairs) is made on the first header:
-- res:text() and friends on a bare response pass only a content-type.
local function new_hdr(self)
  local h = {}
  self._hdr = h
  return h
end

local framing = { ["content-length"] = true, ["transfer-encoding"] = true, connection = true }
function Res:header(name, value)
  name = check_header_text(name, "header name")
  if not name:match("^[%w!#$%%&'*+.^_`|~-]+$") then error("res:header: invalid header name " .. name, 2) end
  value = check_header_text(value, "header value")
  local lname = name:lower()
  if framing[lname] then return self end   -- atto frames the body itself
  local h = self._hdr or new_hdr(self)
  if lname ~= "set-cookie" then
    for i = 1, #h, 2 do
      if h[i] == lname then h[i + 1] = value; return self end
    end
  end
  h[#h + 1] = lname; h[#h + 1] = value
  return self
end

function Res:get_header(name)
  local h, lname = self._hdr, name:lower()
  if not h then return nil end
  for i = 1, #h, 2 do if h[i] == lname then return h[i + 1] end end
end

local samesite_names = { strict = "Strict", lax = "Lax", none = "None" }
local function no_semicolon(attr)
  if attr and attr:find(";", 1, true) then
    error("res:cookie: an attribute contains ';': " .. attr, 3)
  end
end
function Res:cookie(name, value, o)
  name = check_header_text(name, "cookie name")
  if not name:match("^[%w!#$%%&'*+.^_`|~-]+$") then error("res:cookie: invalid cookie name " .. name, 2) end
  value = check_header_text(value, "cookie value")
  local parts = { name .. "=" .. core.urlencode(value) }
  o = o or {}
  local expires, domain   -- with path, the attributes from the caller's text
  if o.max_age then parts[#parts + 1] = "Max-Age=" .. math.floor(o.max_age) end
  if o.expires then
    local e = type(o.expires) == "number" and os.date("!%a, %d %b %Y %H:%M:%S GMT", o.expires) or o.expires
    expires = "Expires=" .. check_header_text(e, "cookie expires")
    parts[#parts + 1] = expires
  end
  local path = "Path=" .. check_header_text(o.path or "/", "cookie path")
  parts[#parts + 1] = path
  if o.domain then
    domain = "Domain=" .. check_header_text(o.domain, "cookie domain")
    parts[#parts + 1] = domain
  end
  if o.secure then parts[#parts + 1] = "Secure" end
  if o.httponly then parts[#parts + 1] = "HttpOnly" end
  if o.samesite then
    local ss = samesite_names[tostring(o.samesite):lower()]
    if not ss then error("res:cookie: samesite must be Strict, Lax or None", 2) end
    parts[#parts + 1] = "SameSite=" .. ss
    if ss == "None" and not o.secure then parts[#parts + 1] = "Secure" end   -- browsers require it
  end
  -- (the other attributes are atto's own text or a number: no ';' there)
  no_semicolon(expires); no_semicolon(path); no_semicolon(domain)
  local h = self._hdr or new_hdr(self)
  h[#h + 1] = "set-cookie"
  h[#h + 1] = concat(parts, "; ")
  return self
end

function Res:_start(clen)
  if self._started then error("the response has already been sent", 3) end
  self._started = true
  if self.req._sess and atto._before_send then atto._before_send(self) end
  core.start(self.req._h, self.status_code, self._hdr or {}, clen)
end

-- The whole response in one C call (head and body). `ctype`, from atto's
-- own constants, replaces any content-type set before; with no header
-- list yet, core.send puts it first (where appending it would have).
-- Called in tail position, so error level 2 is the handler's line.
local function send_body(self, body, ctype)
  local h = self._hdr
  if h and ctype then
    for i = 1, #h, 2 do
      if h[i] == "content-type" then h[i + 1] = ctype; ctype = nil; break end
    end
    if ctype then h[#h + 1] = "content-type"; h[#h + 1] = ctype; ctype = nil end
  end
  if self._started then error("the response has already been sent", 2) end
  self._started = true
  if self.req._sess then   -- the hooks serve sessions (web.lua): none, no call
    local before_send = atto._before_send
    if before_send then before_send(self) end
  end
  core.send(self.req._h, self.status_code, self._hdr, body, ctype)
  self._done = true
  return self
end

function Res:send(body, ctype)
  if body == nil then body = "" end
  if ctype then self:header("content-type", ctype); ctype = nil
  elseif not self:get_header("content-type") then ctype = "text/html; charset=utf-8" end
  return send_body(self, body, ctype)   -- core.send applies tostring
end
function Res:text(s)
  return send_body(self, s == nil and "" or s, "text/plain; charset=utf-8")
end
function Res:html(s)
  return send_body(self, s == nil and "" or s, "text/html; charset=utf-8")
end
function Res:json(v)
  return send_body(self, cjson.encode(v), "application/json")
end
function Res:redirect(url, code)
  self:status(code or 302)
  self:header("location", check_header_text(url, "redirect URL"))
  return self:send("", "text/plain; charset=utf-8")
end

function Res:write(chunk)
  if self._done then error("res:write after the response ended", 2) end
  if not self._started then
    if not self:get_header("content-type") then self:header("content-type", "text/html; charset=utf-8") end
    self:_start(-1)
  end
  local ok = core.body(self.req._h, tostring(chunk), false)
  -- back-pressure: wait while much is queued and the client is slow
  while ok and core.pending(self.req._h) > 1048576 do atto.sleep(0.01) end
  return ok
end
function Res:finish(chunk)
  if self._done then return self end
  if not self._started then
    self:send(chunk or "")
    return self
  end
  core.body(self.req._h, chunk and tostring(chunk) or "", true)
  self._done = true
  return self
end
function Res:sse(ev)
  if not self._started then
    self:header("content-type", "text/event-stream")
    self:header("cache-control", "no-cache")
  end
  local out = {}
  if type(ev) ~= "table" then ev = { data = ev } end
  if ev.id then out[#out + 1] = "id: " .. check_header_text(ev.id, "sse id") end
  if ev.event then out[#out + 1] = "event: " .. check_header_text(ev.event, "sse event") end
  if ev.retry then out[#out + 1] = "retry: " .. math.floor(ev.retry) end
  local data = ev.data
  if type(data) == "table" then data = cjson.encode(data) end
  for line in (tostring(data or "") .. "\n"):gmatch("(.-)\r?\n") do out[#out + 1] = "data: " .. line end
  return self:write(concat(out, "\n") .. "\n\n")
end
function Res:file(path)
  local full = atto._site_path(path)
  if not full then error("res:file: " .. tostring(path) .. " is outside the site folder", 2) end
  self._started = true
  if core.serve_file(self.req._h, full) then self._done = true; return self end
  self._started = false
  return self:status(404):text("404 Not Found\n")
end

-- a path inside the site folder (never outside it), or nil
function atto._site_path(path)
  path = tostring(path)
  if path:find("%z") or path:find("\\", 1, true) then return nil end
  for seg in path:gmatch("[^/]+") do if seg == ".." then return nil end end
  if path:sub(1, 1) == "/" then return nil end
  return core.site_dir() .. "/" .. path
end

atto._Req, atto._Res = Req, Res   -- for the other embedded scripts (web.lua)

-- ---- timers and sleeping -------------------------------------------------

function atto.after(s, fn) return core.timer(tonumber(s) or error("atto.after: seconds must be a number", 2), false, fn) end
function atto.every(s, fn) return core.timer(tonumber(s) or error("atto.every: seconds must be a number", 2), true, fn) end
atto.cancel = core.cancel
function atto.sleep(s)
  core.sleep(tonumber(s) or 0)
  coroutine.yield()
end

-- ---- dispatch ------------------------------------------------------------

local function send_status(req, res, code, site, msg)
  res.status_code = code
  local h = site and site._errors[code]
  if h then
    local ret = h(req, res, msg)
    if not res._started then
      if type(ret) == "string" then return res:html(ret) end
      if type(ret) == "table" then return res:json(ret) end
    end
    if res._started then return end
  end
  local text = code .. " " .. (msg or ({ [400] = "Bad Request", [404] = "Not Found",
    [405] = "Method Not Allowed", [413] = "Content Too Large", [500] = "Internal Server Error" })[code] or "")
  return res:text(text .. "\n")
end
atto._send_status = send_status

-- Run a site's middleware, then its routes/mounts, for `path` (relative to
-- the site's mount point). Returns true if something answered.
local run_site

-- Mounts, then routes, then (top site only) OPTIONS * and public/.
-- Returns true if something answered (or the path exists: 405).
local function route(s, req, res, path, top)
  local mounts = s._mounts
  for i = 1, #mounts do
    local m = mounts[i]
    local p = m.prefix
    if path == p or path:sub(1, #p + 1) == p .. "/" then
      local rest = path:sub(#p + 1)
      if rest == "" then rest = "/" end
      if run_site(m.site, req, res, rest, false) then return true end
    end
  end
  local method = req.method
  local byp = s._exact[path]   -- an exact route: find() without the call
  local fn = byp and (byp[method] or (method == "HEAD" and byp.GET))
  local params
  if not fn then fn, params = find(s, method, path) end
  if fn then
    req.params = params   -- nil (exact route): the lazy {} on first use
    local ret = fn(req, res)
    if not res._started then
      if type(ret) == "string" then res:html(ret)
      elseif type(ret) == "table" then res:json(ret) end
    end
    return true
  end
  if params then   -- the path exists with other methods
    local seen = {}
    for _, m in ipairs(params) do seen[m] = true end
    if seen.GET then seen.HEAD = true end
    seen.OPTIONS = true
    local list = {}
    for m in pairs(seen) do list[#list + 1] = m end
    table.sort(list)
    res:header("allow", concat(list, ", "))
    if req.method == "OPTIONS" then res:status(204):send(""); return true end
    send_status(req, res, 405, s)
    return true
  end
  if top then
    if req.method == "OPTIONS" and path == "*" then
      res:header("allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
      res:status(204):send("")
      return true
    end
    if (req.method == "GET" or req.method == "HEAD") and atto._static(req, res, path) then
      return true
    end
    send_status(req, res, 404, s)   -- here, inside the middleware, so they see the 404
    return true
  end
  return false
end

-- Run a site's middleware (onion style), then route. No middleware: no
-- closures, the common case stays cheap.
function run_site(s, req, res, path, top)
  local mw = s._mw
  if #mw == 0 then return route(s, req, res, path, top) or res._started end
  local i, found = 0, false
  local function nxt()
    i = i + 1
    local m = mw[i]
    if m then return m(req, res, nxt) end
    found = route(s, req, res, path, top)
  end
  nxt()
  return found or res._started
end

-- site:serve(req, res [, path]): run this site (its middleware, routes and
-- mounts) for the request, e.g. from a middleware that picks a site by
-- req.host. Returns true if it answered.
function Site:serve(req, res, path)
  if getmetatable(self) ~= Site then error("site:serve: call it with ':'", 2) end
  return run_site(self, req, res, path or req.path, false)
end

function atto._static(req, res, path)
  local full = atto._site_path("public" .. path)
  if not full then return false end
  if path:sub(-1) == "/" then full = full .. "index.html" end
  if not core.serve_file(req._h, full) then return false end
  -- no middleware anywhere: later requests for this URL can skip Lua
  if not atto._any_middleware and req.raw_path == path and not path:find("%", 1, true) then
    core.static_hint(path, full)
  end
  return true
end

local function keep_traceback(m)
  if type(m) == "table" then return m end
  m = tostring(m)
  return { message = m, traceback = debug.traceback(m, 2) }
end

-- A handler failed and the site has site:error(500, fn): log the traceback,
-- then let fn answer (its third argument is the error message: log it, never
-- show it). If fn fails too, a plain 500.
local function site_500(req, res, h500, e)
  local dir = core.site_dir() .. "/"
  local function short(s) return (s:gsub(dir:gsub("%p", "%%%0"), "")) end
  core.log_error(req.method .. " " .. req.raw_path .. ": " .. short(e.traceback))
  res._hdr, res.status_code = false, 500
  local ok, ret = pcall(h500, req, res, short(e.message))
  if not ok then core.log_error("site:error(500) handler failed: " .. short(tostring(ret))) end
  if res._started then return end
  if not ok then res._hdr, res.status_code = false, 500 end
  if ok and type(ret) == "string" then return res:html(ret) end
  if ok and type(ret) == "table" then return res:json(ret) end
  return res:text("500 Internal Server Error\n")
end

-- From the C side: the handle, method, target and body, then where the
-- query starts (0: none) and `odd`: the path has a '%' or lacks the
-- leading '/'. The tables are built with every key a request usually
-- gets (nil/false ones too), so their hash parts never grow.
local function dispatch(h, method, target, body, q, odd)
  local raw = q > 0 and target:sub(1, q - 1) or target
  local path = raw
  if odd then
    if raw:sub(1, 1) ~= "/" and raw ~= "*" then raw = "/" .. raw end
    path = raw
    if raw:find("%", 1, true) then   -- the parser lets no NUL or control byte through raw
      path = core.urldecode(raw, false)
      if not path or path:find("%z") then
        local req = setmetatable({ _h = h, method = method, raw_path = target, body = body }, Req)
        local res = setmetatable({ req = req }, Res)
        return send_status(req, res, 400, site, "bad percent-encoding in the path")
      end
    end
  end
  local req = setmetatable({ _h = h, method = method, raw_path = target, body = body,
    path = path, params = nil, _sess = false }, Req)
  local res = setmetatable({ req = req, _started = false, _done = false }, Res)
  local h500 = site._errors[500]
  local run = site._mw[1] and run_site or route   -- no middleware: route() directly
  local ok, e
  if h500 and not core.dev() then   -- keep the traceback: we answer the 500 here
    ok, e = xpcall(run, keep_traceback, site, req, res, path, true)
  else
    ok, e = pcall(run, site, req, res, path, true)
  end
  if not ok then
    if type(e) == "table" and e.status then   -- req:json() and friends
      if not res._started then send_status(req, res, e.status, site, e.message) end
    elseif type(e) == "table" and e.traceback and not res._started then
      site_500(req, res, h500, e)
    else
      error(type(e) == "table" and e.message or e, 0)
    end
  elseif not res._started then
    if not e then
      send_status(req, res, 404, site)
    else   -- the handler returned without answering: its status (204 if it set none), its headers, no body
      if res.status_code == 200 then res.status_code = 204 end
      send_body(res, "", nil)
    end
  end
  if req._sess and atto._after_dispatch then atto._after_dispatch(req, res) end
end

-- The 500 page when the dispatcher could not answer (no site:error(500),
-- --dev, a response already begun, a runaway handler): the request task
-- died, so this builds the body: (body, content-type).
local function error_page(code, msg, traceback)
  if traceback then
    return "<!doctype html><title>500 Internal Server Error</title><h1>500 Internal Server Error</h1><pre>"
      .. atto.escape(traceback) .. "</pre>", "text/html; charset=utf-8"
  end
  return "500 Internal Server Error\n", "text/plain; charset=utf-8"
end

return dispatch, error_page
