-- web.lua — the parts of the web API built on lua/lweb.c (`atto.web`):
-- multipart forms and uploads, sessions, etlua-style templates and the
-- atto.read/atto.write file cache. It runs after prelude.lua (receiving
-- `core`) and plugs into the prelude's hooks: atto._multipart,
-- atto._session, atto._before_send and atto._after_dispatch (the last two
-- run only for a request with a session: req._sess, set here).
local core = ...
local web = require("atto.web")
local Req, Res = atto._Req, atto._Res
local type, pairs, tostring, error, setmetatable, rawget, rawset, pcall, load =
      type, pairs, tostring, error, setmetatable, rawget, rawset, pcall, load
local concat, fmt = table.concat, string.format

-- ---- multipart/form-data -------------------------------------------------

-- The prelude calls this for req.form / req.files: (form, files) or a 4xx.
function atto._multipart(req, ctype)
  local form, files, msg = web.multipart(req.body, ctype, web.max_upload_parts())
  if not form then error({ status = files, message = msg }, 0) end
  return form, files
end

-- ---- sessions ------------------------------------------------------------
-- Data is encoded by web.session_encode (lua/lweb_codec.c: tagged binary,
-- integers stay integers, floats exact) and kept in the process-wide C
-- store. Values an older atto stored as Lua literals (a snapshot from
-- before the upgrade) are still read, with no globals.
--
-- A request encodes once when its response starts (and stores only if the
-- bytes changed), then once more when the handler has finished, to keep
-- changes made after the head went out; that second pass gets back the
-- very string it compares with and costs no allocation when nothing moved.

local SID = "atto_sid"
local SID_HTTP = { path = "/", httponly = true, samesite = "Lax", secure = false }
local SID_HTTPS = { path = "/", httponly = true, samesite = "Lax", secure = true }

local function session_conf()
  local l = atto._listen
  if not l then return 3600, 10000 end
  return tonumber(l.session_idle) or 3600, math.tointeger(l.session_max) or 10000
end

-- a value written by the previous format: a Lua literal
local function old_literal(s)
  local f = load("return " .. s, "=session", "t", {})
  local ok, v = pcall(f or error)
  return ok and type(v) == "table" and v or nil
end

local function deserialize(s)
  local v = web.session_decode(s)
  if v == false then return old_literal(s) end
  return v
end

-- the session cookie without parsing every cookie (req.cookies does that
-- when the handler asks, or when the value is quoted or percent-encoded)
local function session_cookie(req)
  local parsed = rawget(req, "cookies")
  if parsed then return parsed[SID] end
  local id = web.cookie(req:header("cookie"), SID)
  if id == false then return req.cookies[SID] end
  return id
end

function atto._session(req)
  local idle, max = session_conf()
  local id = session_cookie(req)
  local data, saved
  if id then
    saved = web.session_get(id, idle, max)
    data = saved and deserialize(saved)
  end
  if not data then   -- unknown ids are never adopted: a fresh one is made
    id, saved, data = web.session_id(), nil, {}
  end
  -- synced: the store has `saved` and it was marked used by this request
  req._sess = { id = id, new = saved == nil, saved = saved, synced = saved ~= nil }   -- raw: Req has no __newindex
  return data
end

local function session_save(req, res)
  local s = req._sess   -- always a raw field (false until a session)
  if not s then return end
  local text, err = web.session_encode(rawget(req, "session"), s.saved)
  if not text then
    core.log_error("session not saved (" .. req.method .. " " .. req.raw_path .. "): " .. err)
    return
  end
  if text == s.saved and not s.new then
    if not s.synced then web.session_touch(s.id, (session_conf())) end   -- just mark it used
    s.synced = true
    return
  end
  local idle, max = session_conf()
  local put
  put, err = web.session_put(s.id, text, idle, max)
  if not put then
    core.log_error("session not saved (" .. req.method .. " " .. req.raw_path .. "): " .. err)
    return
  end
  s.saved, s.synced = text, true
  if s.new and res then   -- called from Res:_start, just before the head goes out
    s.new = false
    res:cookie(SID, s.id, req.scheme == "https" and SID_HTTPS or SID_HTTP)
  end
end

local prev_before_send = atto._before_send
function atto._before_send(res)
  if prev_before_send then prev_before_send(res) end
  local req = res.req
  if req and req._sess then session_save(req, res) end
end

-- after the handler ended: keep changes made after the response started
local prev_after = atto._after_dispatch
function atto._after_dispatch(req, res)
  if prev_after then prev_after(req, res) end
  local s = req._sess
  if s and not s.new then session_save(req, nil) end
end

-- req:reset_session(): forget the stored data; the session starts afresh
-- under a new id (a new cookie is sent). Use it at login and logout.
function Req.reset_session(req)
  local s = rawget(req, "_sess")
  local old = s and s.id or req.cookies[SID]
  if old then web.session_drop(old) end
  rawset(req, "session", {})
  rawset(req, "_sess", { id = web.session_id(), new = true })
  return req.session
end

atto.session_count = web.session_count

-- ---- templates (etlua syntax) --------------------------------------------
-- A template compiles to one Lua function, cached per path until the file's
-- mtime or size changes. The generated code keeps the template's line
-- structure, so an error reads "views/page.html:3: ...".

local templates = {}

local function compile_template(src, name)
  local code, texts = { "local _ts, _cat = tostring, table.concat; local _ENV, _esc, _t = ...; local _b = {}; " }, {}
  local pos, n = 1, #src
  local function text(s)
    if s == "" then return end
    texts[#texts + 1] = s
    code[#code + 1] = "_b[#_b+1]=_t[" .. #texts .. "]; "
    local _, nl = s:gsub("\n", "")
    code[#code + 1] = ("\n"):rep(nl)
  end
  while pos <= n do
    local s, e, kind = src:find("<%%([=-]?)", pos)
    if not s then text(src:sub(pos)); break end
    text(src:sub(pos, s - 1))
    local close = src:find("%>", e + 1, true)
    if not close then
      local _, line = src:sub(1, s):gsub("\n", "")
      error(fmt("%s:%d: unclosed <%%", name, line + 1), 0)
    end
    local body = src:sub(e + 1, close - 1)
    local trim = body:sub(-1) == "-"
    if trim then body = body:sub(1, -2) end
    if kind == "=" then
      code[#code + 1] = "_b[#_b+1]=_esc(" .. body .. "); "
    elseif kind == "-" then
      code[#code + 1] = "_b[#_b+1]=_ts(" .. body .. "); "
    else
      code[#code + 1] = body .. " "
    end
    pos = close + 2
    if trim and src:sub(pos, pos) == "\n" then pos = pos + 1; code[#code + 1] = "\n" end
  end
  code[#code + 1] = " return _cat(_b)"
  local fn, err = load(concat(code), "@" .. name, "t")
  if not fn then error(err, 0) end
  return fn, texts
end

local function esc(v)
  if v == nil then return "" end
  return core.escape(tostring(v))
end

function atto.render(path, vars)
  local full = atto._site_path(path)
  if not full then error("atto.render: " .. tostring(path) .. " is outside the site folder", 0) end
  local mtime, size = web.stat(full)
  if not mtime then error("atto.render: " .. path .. ": no such template", 0) end
  local t = templates[full]
  if not t or t.mtime ~= mtime or t.size ~= size then
    local src, err = web.read(full)
    if not src then error("atto.render: " .. path .. ": " .. err, 0) end
    local fn, texts = compile_template(src, path)
    t = { fn = fn, texts = texts, mtime = mtime, size = size }
    templates[full] = t
  end
  vars = vars or {}
  local env = setmetatable({}, { __index = function(_, k)
    local v = vars[k]
    if v == nil then v = k == "include" and atto.render or _G[k] end
    return v
  end })
  return t.fn(env, esc, t.texts)
end

-- (inside a template, include(path, vars) renders another one: use <%- %>)
function Res:render(path, vars) return self:html(atto.render(path, vars)) end

-- ---- file cache: atto.read / atto.write (marker algorithm) ---------------
-- Entries are marked when used. To make room, a random unmarked entry is
-- evicted; when every entry is marked, a new phase starts and all marks are
-- cleared (the classic randomized marking algorithm for paging). An entry is
-- valid while the file's mtime, size and inode are unchanged on disk.

local cache = { keys = {}, map = {}, bytes = 0 }
atto.cache_limits = { entries = 256, bytes = 16 * 1024 * 1024, file = 1024 * 1024 }

local function cache_drop(i)
  local keys = cache.keys
  local k = keys[i]
  cache.bytes = cache.bytes - #cache.map[k].data
  cache.map[k] = nil
  keys[i] = keys[#keys]
  keys[#keys] = nil
end

local function cache_make_room(len)
  local lim, keys = atto.cache_limits, cache.keys
  while #keys > 0 and (#keys >= lim.entries or cache.bytes + len > lim.bytes) do
    local unmarked = {}
    for i = 1, #keys do if not cache.map[keys[i]].marked then unmarked[#unmarked + 1] = i end end
    if #unmarked == 0 then   -- new phase
      for i = 1, #keys do cache.map[keys[i]].marked = false end
    else
      cache_drop(unmarked[math.random(#unmarked)])
    end
  end
end

local function cache_put(full, data, mtime, size, ino)
  local e = cache.map[full]
  if e then
    cache.bytes = cache.bytes - #e.data
    e.data, e.mtime, e.size, e.ino, e.marked = data, mtime, size, ino, true
    cache.bytes = cache.bytes + #data
    return
  end
  if #data > atto.cache_limits.file then return end
  cache_make_room(#data)
  cache.keys[#cache.keys + 1] = full
  cache.map[full] = { data = data, mtime = mtime, size = size, ino = ino, marked = true }
  cache.bytes = cache.bytes + #data
end

local function cache_forget(full)
  for i = 1, #cache.keys do if cache.keys[i] == full then return cache_drop(i) end end
end

-- error texts name paths relative to the site folder
local function rel(msg)
  local dir = core.site_dir() .. "/"
  if msg:sub(1, #dir) == dir then return msg:sub(#dir + 1) end
  return msg
end

-- atto.read(path) -> contents | nil, reason
function atto.read(path)
  local full = atto._site_path(path)
  if not full then return nil, tostring(path) .. ": outside the site folder" end
  local mtime, size, ino = web.stat(full)
  local e = cache.map[full]
  if not mtime then
    if e then cache_forget(full) end
    return nil, rel(size)
  end
  if e and e.mtime == mtime and e.size == size and e.ino == ino then
    e.marked = true
    return e.data
  end
  local data, m2, s2, i2 = web.read(full)
  if not data then return nil, rel(m2) end
  cache_put(full, data, m2, s2, i2)
  return data
end

-- atto.write(path, data) -> true | nil, reason (atomic: temp file + rename)
function atto.write(path, data)
  local full = atto._site_path(path)
  if not full then return nil, tostring(path) .. ": outside the site folder" end
  data = tostring(data)
  local mtime, size, ino = web.write(full, data, #core.site_dir())
  if not mtime then return nil, rel(size) end
  cache_put(full, data, mtime, size, ino)
  return true
end

function atto.cache_stats()
  local marked = 0
  for _, e in pairs(cache.map) do if e.marked then marked = marked + 1 end end
  return { entries = #cache.keys, bytes = cache.bytes, marked = marked }
end
