-- mail.lua (embedded) — the `mail` global that a site's mail.lua uses, and
-- the event bridge lua/lmail.c calls for each SMTP rule hook.
--
--   mail.domains{ "example.test" }
--   mail.smarthost{ host = "127.0.0.1", port = 2526 }
--   mail.options{ max_message_size = 25 * 1024 * 1024, plaintext_auth = false }
--   mail.on("rcpt_to", function(tx, rcpt) ... end)
--
-- A hook that returns nothing lets the transaction go on; s:reject(code,
-- text) / tx:defer(code, text) stop it. Message rules call msg:fileinto,
-- msg:discard, msg:keep, msg:redirect, msg:add_header, msg:reply.
local core = ...
local cmail   -- require "atto.mail", loaded on first use (absent in builds without mail)
local function C()
  cmail = cmail or require("atto.mail")
  return cmail
end

local config = { domains = {} }
local handlers = {}
local events = { connect = true, helo = true, mail_from = true, rcpt_to = true, message = true }

mail = {}
atto._mail_config = config

function mail.domains(list)
  if type(list) ~= "table" then error("mail.domains takes a list, e.g. mail.domains{ \"example.test\" }", 2) end
  for i, d in ipairs(list) do
    if type(d) ~= "string" or not d:match("^[%w.-]+$") then error("mail.domains: entry " .. i .. " is not a domain name", 2) end
    config.domains[#config.domains + 1] = d:lower()
  end
end

function mail.smarthost(t)
  if type(t) ~= "table" or type(t.host) ~= "string" then error("mail.smarthost takes { host = \"...\", port = 25 }", 2) end
  config.smarthost_host = t.host
  config.smarthost_port = math.tointeger(t.port or 25) or error("mail.smarthost: port must be an integer", 2)
end

function mail.options(t)
  if type(t) ~= "table" then error("mail.options takes a table", 2) end
  if t.max_message_size ~= nil then
    config.max_message_size = math.tointeger(t.max_message_size) or error("mail.options: max_message_size must be an integer", 2)
  end
  if t.plaintext_auth ~= nil then config.plaintext_auth = t.plaintext_auth and true or false end
end

function mail.on(event, fn)
  if not events[event] then error("mail.on: unknown event " .. tostring(event) .. " (connect, helo, mail_from, rcpt_to, message)", 2) end
  if type(fn) ~= "function" then error("mail.on: the handler must be a function", 2) end
  handlers[event] = fn
end

function mail.user_exists(user) return C().user_exists(tostring(user)) end

function atto._load_mail(path)
  local chunk, err = atto._loadfile(path)   -- lua/lstate.c: named "mail.lua", not its full path
  if not chunk then error(err, 0) end
  chunk()
end

-- ---- objects the rules see ----------------------------------------------

local Verdict = {}
Verdict.__index = Verdict
function Verdict:reject(code, text)
  self._v = { "reject", math.tointeger(code) or 550, text and tostring(text) or "5.7.1 Rejected" }
end
function Verdict:defer(code, text)
  self._v = { "defer", math.tointeger(code) or 451, text and tostring(text) or "4.7.1 Try again later" }
end

local Msg = setmetatable({}, { __index = Verdict })
Msg.__index = Msg

local function parse_headers(data)
  local head = data:match("^(.-)\r?\n\r?\n") or data
  local list = {}
  for line in (head .. "\n"):gmatch("(.-)\r?\n") do
    if line:match("^[ \t]") and #list > 0 then
      list[#list].value = list[#list].value .. " " .. line:gsub("^[ \t]+", "")
    else
      local name, value = line:match("^([^:%s]+):[ \t]*(.-)$")
      if name then list[#list + 1] = { name = name:lower(), value = value } end
    end
  end
  return list
end

function Msg:header(name)
  name = name:lower()
  for _, h in ipairs(self._headers) do if h.name == name then return h.value end end
end
function Msg:headers(name)
  local out = {}
  name = name and name:lower()
  for _, h in ipairs(self._headers) do
    if not name or h.name == name then out[#out + 1] = name and h.value or { h.name, h.value } end
  end
  return out
end
local function act(self, ...) self._actions[#self._actions + 1] = { ... } end
function Msg:fileinto(folder)
  folder = tostring(folder)
  if folder == "" or folder:find("[/\\%z]") or folder:find("..", 1, true) then error("msg:fileinto: bad folder name " .. folder, 2) end
  act(self, "fileinto", folder)
end
function Msg:discard() act(self, "discard") end
function Msg:keep() act(self, "keep") end
function Msg:redirect(addr)
  addr = tostring(addr)
  if not addr:match("^[^@%s<>]+@[%w.-]+$") then error("msg:redirect: not an address: " .. addr, 2) end
  act(self, "redirect", addr)
end
function Msg:add_header(name, value)
  name, value = tostring(name), tostring(value)
  if not name:match("^[%w-]+$") then error("msg:add_header: bad header name " .. name, 2) end
  if value:find("[\r\n%z]") then error("msg:add_header: the value contains CR, LF or NUL", 2) end
  act(self, "add_header", name, value)
end
function Msg:reply(t)
  if type(t) ~= "table" then error("msg:reply takes { subject = ..., body = ... }", 2) end
  act(self, "reply", tostring(t.subject or "Auto-reply"), tostring(t.body or ""))
end

-- Called by lmail.c: (event, session, ...) -> kind, code, text, actions
function atto._mail_event(event, session, a, b)
  local fn = handlers[event]
  if not fn then return nil end
  if event == "message" then
    local m = setmetatable({ from = a.from, to = a.to, size = a.size, body = a.data,
      session = session, _headers = parse_headers(a.data), _actions = {} }, Msg)
    fn(m)
    local v = m._v
    if v then return v[1], v[2], v[3], nil end
    return nil, nil, nil, m._actions
  end
  local obj = setmetatable(session, Verdict)
  if event == "connect" then fn(obj)
  elseif event == "helo" then fn(obj, a)
  elseif event == "mail_from" then fn(obj, a)
  else fn(obj, a) end
  local v = obj._v
  if v then return v[1], v[2], v[3], nil end
  if event == "rcpt_to" then return "accept" end   -- the rule vouched for it
end

-- ---- sending -------------------------------------------------------------

atto.mail = atto.mail or {}
function atto.mail.send(t)
  if type(t) ~= "table" then error("atto.mail.send takes { from=, to=, subject=, body= }", 2) end
  local from = tostring(t.from or "")
  local to = type(t.to) == "table" and t.to or { t.to }
  local list = {}
  for i, addr in ipairs(to) do
    addr = tostring(addr)
    if not addr:match("^[^@%s<>]+@[%w.-]+$") then error("atto.mail.send: not an address: " .. addr, 2) end
    list[i] = addr
  end
  if #list == 0 then error("atto.mail.send: no recipient", 2) end
  local function clean(s, what)
    s = tostring(s or "")
    if s:find("[\r\n%z]") then error("atto.mail.send: " .. what .. " contains CR, LF or NUL", 3) end
    return s
  end
  local body = tostring(t.body or ""):gsub("\r?\n", "\r\n")
  local msg = table.concat({
    "From: " .. clean(from, "from"),
    "To: " .. table.concat(list, ", "),
    "Subject: " .. clean(t.subject, "subject"),
    "Date: " .. os.date("!%a, %d %b %Y %H:%M:%S +0000"),
    string.format("Message-ID: <%d.%d@atto>", os.time(), math.random(1, 1 << 30)),
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "", body }, "\r\n")
  return C().queue_submit(from, list, msg)
end
