"""The web API of index.lua end to end: multipart forms and uploads (exact
sizes, arrays, malformed bodies), cookies, sessions (attributes, forged ids,
workers, SIGHUP, idle expiry, LRU bound), templates, the atto.read/write
cache, JSON, middleware order and short-circuit, mounts, error pages,
OPTIONS/HEAD/405, return values, timers and sleep. Clients: http.client,
curl and raw sockets."""
import http.client, json, os, re, shutil, signal, socket, tempfile, time
import lib

INDEX = r'''
site:listen{ max_body = 4 * 1024 * 1024, session_idle = 2, session_max = 50 }
local function dump(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    if type(v) == "table" then v = "[" .. table.concat(v, "|") .. "]" end
    out[#out + 1] = k .. "=" .. tostring(v)
  end
  return table.concat(out, "&")
end
site:post("/form", function(req, res) res:text(dump(req.form)) end)
site:post("/files", function(req, res)
  local out = {}
  for name, f in pairs(req.files) do
    local list = f.filename and { f } or f
    for i, x in ipairs(list) do
      out[#out + 1] = { name = name, i = i, filename = x.filename, type = x.type, size = x.size,
                        sum = #x.data == x.size and x.data:sub(1, 8) or "SIZE MISMATCH" }
    end
  end
  table.sort(out, function(a, b) return a.name .. a.i < b.name .. b.i end)
  res:json{ files = out, form = dump(req.form) }
end)
site:post("/echo-file", function(req, res)
  local f = req.files.f
  res:send(f.data, "application/octet-stream")
end)
site:get("/q", function(req, res) res:text(dump(req.query)) end)
site:get("/cookies", function(req, res) res:text(dump(req.cookies)) end)
site:get("/setcookie", function(req, res)
  res:cookie("a", "x y;z", { max_age = 60, expires = 0, path = "/p", domain = "example.com",
                              secure = true, httponly = true, samesite = "strict" })
  res:cookie("b", "1", { samesite = "None" })
  res:cookie("c", "2")
  res:text("ok")
end)
site:get("/badcookie", function(req, res) res:cookie("a", "b", { samesite = "sometimes" }); res:text("no") end)
site:get("/count", function(req, res)
  local s = req.session
  s.n = (s.n or 0) + 1
  s.list = s.list or {}
  s.list[#s.list + 1] = s.n
  res:text("n=" .. s.n .. " last=" .. tostring(s.list[#s.list]) .. " type=" .. math.type(s.n))
end)
site:get("/peek", function(req, res) res:text("n=" .. tostring(req.session.n)) end)
site:get("/sessions", function(req, res) res:text(tostring(atto.session_count())) end)
site:get("/badsession", function(req, res) req.session.f = print; res:text("sent") end)
site:get("/stream-session", function(req, res)
  res:write("a")
  req.session.streamed = true            -- touched after the head went out
  res:finish("b")
end)
site:get("/render", function(req, res)
  res:render("views/t.html", { name = req.query.name, n = tonumber(req.query.n or "2") })
end)
site:get("/render-bad", function(req, res) res:render("views/bad.html", {}) end)
site:get("/render-syntax", function(req, res) res:render("views/syntax.html", {}) end)
site:get("/render-outside", function(req, res) res:render("../etc/passwd", {}) end)
site:get("/render-str", function(req, res) return atto.render("views/t.html", { name = "s", n = 1 }) end)
site:post("/write", function(req, res)
  local ok, err = atto.write(req.query.path, req.body)
  res:text(ok and "written" or ("error: " .. err))
end)
site:get("/read", function(req, res)
  local data, err = atto.read(req.query.path)
  res:text(data or ("error: " .. err))
end)
site:get("/cache", function(req, res)
  atto.cache_limits.entries, atto.cache_limits.bytes = 4, 1000
  for i = 1, 10 do atto.write("cache/f" .. i .. ".txt", ("x"):rep(100)) end
  for r = 1, 3 do for i = 1, 10 do assert(atto.read("cache/f" .. i .. ".txt") == ("x"):rep(100)) end end
  local s = atto.cache_stats()
  atto.write("cache/big.txt", ("y"):rep(900))
  local s2 = atto.cache_stats()
  res:json{ entries = s.entries, bytes = s.bytes, entries2 = s2.entries, bytes2 = s2.bytes }
end)
site:post("/json", function(req, res)
  local v = req:json()
  res:json{ got = v, again = atto.json.decode(atto.json.encode(v)) }
end)

-- middleware: onion order, short-circuit
local trail = {}
site:use(function(req, res, next)
  if req.path:sub(1, 4) ~= "/mw/" then return next() end
  trail = { "a-in" }
  next()
  trail[#trail + 1] = "a-out"
end)
site:use(function(req, res, next)
  if req.path:sub(1, 4) ~= "/mw/" then return next() end
  trail[#trail + 1] = "b-in"
  if req.query.deny then return res:status(401):text("denied by middleware") end
  next()
  trail[#trail + 1] = "b-out"
end)
site:get("/mw/x", function(req, res) trail[#trail + 1] = "handler"; res:text("handled") end)
site:get("/trail", function(req, res) res:text(table.concat(trail, ",")) end)

local admin = atto.site()
admin:use(function(req, res, next) res:header("x-admin", "1"); next() end)
admin:get("/", function(req, res) res:text("admin home") end)
admin:get("/users/{id}", function(req, res) res:text("user " .. req.params.id .. " path " .. req.path) end)
site:mount("/admin", admin)

site:error(404, function(req, res) res:html("<h1>custom 404</h1>") end)
site:error(405, function(req, res) return "<h1>custom 405</h1>" end)
site:error(500, function(req, res, err)
  if req.query.fail then error("the 500 handler fails too") end
  res:html("<h1>custom 500</h1>")
end)
site:get("/boom", function(req, res) error("boom here") end)
site:post("/only-post", function(req, res) res:text("posted") end)
site:get("/ret-str", function(req, res) return "<p>string</p>" end)
site:get("/ret-tbl", function(req, res) return { a = 1 } end)

local hits, ticks = 0, 0
site:after(0.05, function() hits = hits + 1 end)
local every_id = site:every(0.05, function() ticks = ticks + 1 end)
site:get("/timers", function(req, res)
  local fired = false
  atto.after(0.05, function() fired = true end)
  local c = 0
  local id = atto.every(0.02, function() c = c + 1 end)
  atto.sleep(0.2)
  atto.cancel(id)
  local c1 = c
  atto.sleep(0.1)
  atto.cancel(every_id)
  local t1 = ticks
  atto.sleep(0.15)
  res:json{ fired = fired, every = c1, stopped = c == c1, site_after = hits, site_every = ticks,
            site_every_stopped = ticks == t1 }
end)
site:get("/slow", function(req, res) atto.sleep(1); res:text("slow") end)
'''

SITE = None
atto = None


def setup():
    global SITE, atto
    SITE = lib.tmp_site({
        "index.lua": INDEX,
        "views/t.html": "Hi <%= name %>!\n<% for i = 1, n do -%>\n[<%= i %>]\n<% end -%>\n<%- '<raw>' %>\n",
        "views/bad.html": "line 1\nline 2\n<%= nope.field %>\n",
        "views/syntax.html": "a\n<% if then %>\n",
        "public/static.txt": "static\n",
    })
    atto = lib.Atto(SITE, args=["--workers", "2"]).start()


def req(path, method="GET", body=None, headers=None, port=None):
    c = http.client.HTTPConnection("127.0.0.1", port or atto.http, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data, r.msg


def multipart(parts, boundary="XbOuNdArY42"):
    out = b""
    for p in parts:
        out += b"--" + boundary.encode() + b"\r\n" + p + b"\r\n"
    return out + b"--" + boundary.encode() + b"--\r\n"


def mp_headers(boundary="XbOuNdArY42"):
    return {"Content-Type": "multipart/form-data; boundary=" + boundary}


# ---- multipart -----------------------------------------------------------

def test_multipart_fields_and_arrays():
    body = multipart([b'Content-Disposition: form-data; name="a"\r\n\r\n1',
                      b'Content-Disposition: form-data; name="a"\r\n\r\n2',
                      b'Content-Disposition: form-data; name="a"\r\n\r\n3',
                      b'Content-Disposition: form-data; name="empty"\r\n\r\n',
                      b'Content-Disposition: form-data; name="crlf"\r\n\r\nx\r\ny\r\n'])
    st, h, data, _ = req("/form", "POST", body, mp_headers())
    assert st == 200 and data == b"a=[1|2|3]&crlf=x\r\ny\r\n&empty=", data


def test_multipart_files_exact_sizes_with_curl():
    d = tempfile.mkdtemp()
    blob = bytes(range(256)) * 100 + b"\r\n--XbOuNdArY\r\n\r\n"   # CRLFs and boundary-like text at the end
    with open(os.path.join(d, "blob.bin"), "wb") as f:
        f.write(blob)
    with open(os.path.join(d, "empty.txt"), "wb") as f:
        pass
    rc, out, err = lib.curl("-F", "f=@%s/blob.bin" % d, "-F", "f=@%s/empty.txt;type=text/plain" % d,
                            "-F", 'g=@%s/blob.bin;filename="we\\"ird name.bin"' % d, "-F", "title=hello",
                            "http://127.0.0.1:%d/files" % atto.http)
    assert rc == 0, err
    j = json.loads(out)
    files = j["files"]
    assert [(x["name"], x["filename"], x["size"]) for x in files] == [
        ("f", "blob.bin", len(blob)), ("f", "empty.txt", 0), ("g", "we%22ird name.bin", len(blob))], files   # curl escapes " as %22, like browsers
    assert files[0]["type"] == "application/octet-stream" and files[1]["type"] == "text/plain"
    assert j["form"] == "title=hello"
    rc, out, err = lib.curl("-F", "f=@%s/blob.bin" % d, "http://127.0.0.1:%d/echo-file" % atto.http)
    assert out == blob, (len(out), len(blob))


def test_multipart_malformed_is_400():
    good = b'Content-Disposition: form-data; name="a"\r\n\r\n1'
    cases = [
        ({"Content-Type": "multipart/form-data"}, multipart([good]), b"without a boundary"),
        (mp_headers("OTHER"), multipart([good]), b"does not contain the multipart boundary"),
        (mp_headers(), multipart([good])[:-20], b"truncated"),
        (mp_headers(), b"--XbOuNdArY42\r\n" + good + b"\r\n--XbOuNdArY42", b"no final boundary"),
        (mp_headers(), multipart([b"Content-Type: text/plain\r\n\r\nx"]), b"no Content-Disposition name"),
        (mp_headers(), multipart([b"garbage line\r\n\r\nx"]), b"malformed part header"),
    ]
    for headers, body, why in cases:
        st, h, data, _ = req("/form", "POST", body, headers)
        assert st == 400 and why in data, (why, st, data)
        assert data.startswith(b"400 malformed multipart body:"), data


def test_multipart_10000_parts_is_413_and_bounded():
    body = multipart([b'Content-Disposition: form-data; name="f%d"\r\n\r\nv' % i for i in range(10000)])
    st, h, data, _ = req("/form", "POST", body, mp_headers())
    assert st == 413 and b"too many parts" in data and b"1000" in data, (st, data)
    body = multipart([b'Content-Disposition: form-data; name="f%d"\r\n\r\nv' % i for i in range(1000)])
    st, h, data, _ = req("/form", "POST", body, mp_headers())
    assert st == 200 and data.count(b"=v") == 1000


def test_multipart_huge_part_headers_413():
    body = multipart([b'Content-Disposition: form-data; name="a"\r\nX-Pad: ' + b"p" * 40000 + b"\r\n\r\nv"])
    st, h, data, _ = req("/form", "POST", body, mp_headers())
    assert st == 413 and b"headers are larger" in data, (st, data)


def test_oversized_body_413():
    head = (b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n" % (5 * 1024 * 1024))
    out = lib.raw(atto.http, head + b"a=xxxx")
    assert lib.status_of(out) == 413, out
    assert req("/q?a=1")[2] == b"a=1"          # the server lives on


# ---- urlencoded, cookies, JSON ------------------------------------------

def test_bad_percent_encoding_400():
    st, h, data, _ = req("/q?a=%zz")
    assert st == 400 and b"bad percent-encoding in the query string" in data, data
    st, h, data, _ = req("/form", "POST", b"a=1&b=%4", {"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 400 and b"bad percent-encoding in the form" in data, data
    st, h, data, _ = req("/q%zz")
    assert st == 400 and b"percent-encoding" in data
    st, h, data, _ = req("/form", "POST", b"a=1+2&a=%263&b", {"Content-Type": "application/x-www-form-urlencoded"})
    assert data == b"a=[1 2|&3]&b=", data


def test_invalid_cookies_are_skipped():
    st, h, data, _ = req("/cookies", headers={"Cookie": 'ok=1; =novalue; bad name=2; noequals; q="quoted%20v"; ok=dup; b\\=x; pct=%zz'})
    assert st == 200 and data == b"ok=1&pct=%zz&q=quoted v", data


def test_res_cookie_attributes():
    st, h, data, msg = req("/setcookie")
    cookies = msg.get_all("set-cookie")
    assert cookies[0] == ("a=x%20y%3Bz; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/p; "
                          "Domain=example.com; Secure; HttpOnly; SameSite=Strict"), cookies[0]
    assert cookies[1] == "b=1; Path=/; SameSite=None; Secure", cookies[1]
    assert cookies[2] == "c=2; Path=/", cookies[2]
    st, h, data, _ = req("/badcookie")
    assert st == 500 and b"sometimes" not in data
    assert "samesite must be Strict, Lax or None" in atto.output()


def test_json_body_and_codec():
    st, h, data, _ = req("/json", "POST", b'{"a": [1, "x", true], "b": null}')
    j = json.loads(data)
    assert st == 200 and j["got"]["a"] == [1, "x", True] and j["again"]["a"] == [1, "x", True], j
    st, h, data, _ = req("/json", "POST", b'{"a": ')
    assert st == 400 and b"invalid JSON in the request body" in data, data


# ---- sessions ------------------------------------------------------------

def sid_of(msg):
    for c in msg.get_all("set-cookie") or []:
        m = re.match(r"atto_sid=([0-9a-f]+);", c)
        if m:
            return m.group(1), c
    return None, None


def test_session_cookie_attributes_and_counter():
    st, h, data, msg = req("/count")
    sid, cookie = sid_of(msg)
    assert data == b"n=1 last=1 type=integer", data
    assert sid and len(sid) == 64, cookie
    assert cookie == "atto_sid=%s; Path=/; HttpOnly; SameSite=Lax" % sid, cookie
    for i in range(2, 12):        # two workers, one store
        st, h, data, msg = req("/count", headers={"Cookie": "atto_sid=" + sid})
        assert data == b"n=%d last=%d type=integer" % (i, i), data
        assert sid_of(msg)[0] is None       # an existing session is not re-sent


def test_session_ids_all_differ():
    """New sessions from both worker processes (ids come from a per-thread
    pool of random bytes, emptied in a forked child): 300 ids, no repeat,
    no shared prefix between any two (a pool copied into two processes
    would hand out the same ids in both)."""
    ids = set()
    for _ in range(300):
        st, h, data, msg = req("/count")
        sid = sid_of(msg)[0]
        assert sid and re.fullmatch(r"[0-9a-f]{64}", sid), sid
        ids.add(sid)
    assert len(ids) == 300, len(ids)
    assert len({i[:16] for i in ids}) == 300


def test_session_https_cookie_is_secure():
    site = lib.tmp_site({"index.lua": 'site:get("/", function(req, res) req.session.x = 1; res:text(req.scheme) end)'})
    with lib.Atto(site, enable=("https",)) as a:
        rc, out, err = lib.curl("-k", "-i", "https://127.0.0.1:%d/" % a.https)
        assert re.search(rb"set-cookie: atto_sid=[0-9a-f]{64}; Path=/; Secure; HttpOnly; SameSite=Lax\r\n", out), out


def test_session_unknown_id_not_adopted():
    forged = "a" * 64
    st, h, data, msg = req("/count", headers={"Cookie": "atto_sid=" + forged})
    sid, _ = sid_of(msg)
    assert data.startswith(b"n=1 ") and sid and sid != forged, (data, sid)
    st, h, data, msg = req("/peek", headers={"Cookie": "atto_sid=" + forged})
    assert data == b"n=nil", data
    st, h, data, msg = req("/count", headers={"Cookie": "atto_sid=../../etc"})
    assert data.startswith(b"n=1 ") and sid_of(msg)[0]


def test_session_streamed_and_unserializable():
    st, h, data, msg = req("/count")
    sid = sid_of(msg)[0]
    st, h, data, msg = req("/stream-session", headers={"Cookie": "atto_sid=" + sid})
    assert data == b"ab"
    st, h, data, msg = req("/badsession", headers={"Cookie": "atto_sid=" + sid})
    assert st == 200 and data == b"sent"
    assert "session not saved" in atto.output() and "not function" in atto.output()


def test_session_idle_expiry_and_lru_bound():
    st, h, data, msg = req("/count")
    sid = sid_of(msg)[0]
    time.sleep(2.5)                       # session_idle = 2
    st, h, data, msg = req("/count", headers={"Cookie": "atto_sid=" + sid})
    assert data.startswith(b"n=1 ") and sid_of(msg)[0] != sid, data
    first = sid_of(msg)[0]
    for i in range(60):                   # session_max = 50
        req("/count")
    st, h, data, _ = req("/sessions")
    assert int(data) <= 50, data
    st, h, data, msg = req("/peek", headers={"Cookie": "atto_sid=" + first})
    assert data == b"n=nil", data         # the least recently used went first


def test_session_survives_sighup_reload():
    st, h, data, msg = req("/count")
    sid = sid_of(msg)[0]
    req("/count", headers={"Cookie": "atto_sid=" + sid})
    atto.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    st, h, data, msg = req("/count", headers={"Cookie": "atto_sid=" + sid})
    assert data.startswith(b"n=3 "), data



SESSION_SITE = r"""
local function show(s)
  local keys = {}
  for k, v in pairs(s) do
    keys[#keys + 1] = tostring(k) .. ":" .. (type(v) == "table" and "{" .. tostring(v.x and #v.x) .. "}"
                                             or math.type(v) or tostring(v))
  end
  table.sort(keys)
  return table.concat(keys, " ")
end
site:get("/show", function(req, res) res:text(show(req.session)) end)
site:get("/n", function(req, res)
  local s = req.session
  s.n = (s.n or 0) + 1
  res:text(tostring(s.n))
end)
site:get("/late", function(req, res)
  res:write("a")
  req.session.late = (req.session.late or 0) + 1    -- after the head went out
  res:finish("b")
end)
site:use(function(req, res, nxt)
  if req.path ~= "/mw" then return nxt() end
  local s = req.session     -- (loaded while the request's headers are at hand)
  nxt()
  s.mw = true               -- after the answer was sent
end)
site:get("/mw", function(req, res) return { ok = true } end)
"""


def test_session_old_format_snapshot_line_still_loads():
    site = lib.tmp_site({"index.lua": SESSION_SITE})
    good, code, broken = "ab" * 32, "cd" * 32, "ef" * 32
    lines = [(good, '{["n"]=41,["f"]=0x1.8p+1,["t"]={["x"]="y\\0z",},[true]=false,}'),
             (code, '(function() error("no") end)()'),
             (broken, '{["n"]=')]
    snap = b"atto-sessions 1\n"
    for sid, lit in lines:
        snap += b"%s 1.000 %d\n%s\n" % (sid.encode(), len(lit), lit.encode())
    os.makedirs(os.path.join(site, ".atto"), exist_ok=True)
    with open(os.path.join(site, ".atto", "sessions"), "wb") as f:
        f.write(snap)
    a = lib.Atto(site).start()
    try:
        st, h, data, msg = req("/show", headers={"Cookie": "atto_sid=" + good}, port=a.http)
        assert data == b"f:float n:integer t:{3} true:false", data
        assert sid_of(msg)[0] is None, msg.get_all("set-cookie")     # the same session
        st, h, data, msg = req("/n", headers={"Cookie": "atto_sid=" + good}, port=a.http)
        assert data == b"42", data
        for sid in (code, broken):       # an unreadable value: a fresh session
            st, h, data, msg = req("/n", headers={"Cookie": "atto_sid=" + sid}, port=a.http)
            assert data == b"1" and sid_of(msg)[0] not in (None, sid), (data, sid_of(msg))
    finally:
        assert a.stop() == 0
    with open(os.path.join(site, ".atto", "sessions"), "rb") as f:
        saved = f.read()
    i = saved.index(good.encode())
    value = saved[saved.index(b"\n", i) + 1:]
    assert value[:1] == b"\xa5", saved[:200]         # rewritten in the new format
    b = lib.Atto(site).start()
    try:
        st, h, data, msg = req("/n", headers={"Cookie": "atto_sid=" + good}, port=b.http)
        assert data == b"43", data
    finally:
        assert b.stop() == 0


def test_session_changes_after_the_head_are_kept():
    site = lib.tmp_site({"index.lua": SESSION_SITE})
    with lib.Atto(site, args=["--workers", "1"]) as a:
        st, h, data, msg = req("/n", port=a.http)
        sid = sid_of(msg)[0]
        cookie = {"Cookie": "atto_sid=" + sid}
        for want in (b"late:integer n:integer", b"late:integer n:integer"):
            st, h, data, msg = req("/late", headers=cookie, port=a.http)
            assert data == b"ab", data
            st, h, data, msg = req("/show", headers=cookie, port=a.http)
            assert data == want, data
        st, h, data, msg = req("/mw", headers=cookie, port=a.http)
        assert json.loads(data) == {"ok": True}, data
        st, h, data, msg = req("/show", headers=cookie, port=a.http)
        assert data == b"late:integer mw:true n:integer", data
        # the cookie found however it is written: quoted, percent-encoded, among others
        for c in ('atto_sid="%s"' % sid, "atto_sid=%s%s" % ("%" + "%02x" % ord(sid[0]), sid[1:]),
                  "a=1; atto_sid=a\tb; x; atto_sid=%s" % sid, " b=2 ;  atto_sid = %s ; c=3" % sid):
            st, h, data, msg = req("/n", headers={"Cookie": c}, port=a.http)
            assert sid_of(msg)[0] is None and int(data) > 1, (c, data)


# ---- templates -----------------------------------------------------------

def test_template_render_escape_raw_code():
    st, h, data, _ = req("/render?name=%3Ci%3E&n=3")
    assert st == 200 and h["content-type"].startswith("text/html"), st
    assert data == b"Hi &lt;i&gt;!\n[1]\n[2]\n[3]\n<raw>\n", data
    st, h, data, _ = req("/render-str")
    assert data == b"Hi s!\n[1]\n<raw>\n", data


def test_template_cache_follows_file_changes():
    p = os.path.join(SITE, "views/t.html")
    for i, text in enumerate(["v1 <%= name %>", "version two <%= name %>!", "v3"]):
        with open(p, "w") as f:
            f.write(text)
        os.utime(p, (time.time() + i, time.time() + i))
        for _ in range(3):                  # both workers
            st, h, data, _ = req("/render?name=x")
            assert data == text.replace("<%= name %>", "x").encode(), (i, data)
    with open(p, "w") as f:
        f.write("Hi <%= name %>!\n<% for i = 1, n do -%>\n[<%= i %>]\n<% end -%>\n<%- '<raw>' %>\n")


def test_template_errors_name_file_and_line():
    st, h, data, _ = req("/render-bad")
    assert st == 500
    time.sleep(0.1)
    assert "views/bad.html:3:" in atto.output(), atto.output()[-1500:]
    st, h, data, _ = req("/render-syntax")
    assert st == 500
    time.sleep(0.1)
    assert "views/syntax.html:2:" in atto.output(), atto.output()[-1500:]
    st, h, data, _ = req("/render-outside")
    assert st == 500 and b"passwd" not in data
    time.sleep(0.1)
    assert "outside the site folder" in atto.output()


# ---- file cache ----------------------------------------------------------

def test_read_write_atomic_and_invalidated():
    st, h, data, _ = req("/write?path=data/notes/a.txt", "POST", b"first")
    assert data == b"written", data
    assert open(os.path.join(SITE, "data/notes/a.txt"), "rb").read() == b"first"
    for _ in range(3):
        assert req("/read?path=data/notes/a.txt")[2] == b"first"
    with open(os.path.join(SITE, "data/notes/a.txt"), "w") as f:
        f.write("changed on disk")
    assert req("/read?path=data/notes/a.txt")[2] == b"changed on disk"
    assert [n for n in os.listdir(os.path.join(SITE, "data/notes")) if "tmp" in n] == []
    assert req("/read?path=../outside")[2].endswith(b"outside the site folder")
    assert req("/write?path=/etc/x", "POST", b"x")[2].startswith(b"error: ")
    st, h, data, _ = req("/read?path=data/none.txt")
    assert data == b"error: data/none.txt: No such file or directory", data


def test_read_write_refuse_symlinks_out():
    out = tempfile.mkdtemp()
    with open(os.path.join(out, "secret.txt"), "w") as f:
        f.write("secret")
    os.makedirs(os.path.join(SITE, "data"), exist_ok=True)
    os.symlink(out, os.path.join(SITE, "data/link"))
    st, h, data, _ = req("/read?path=data/link/secret.txt")
    assert data == b"error: data/link/secret.txt: leads outside the site folder", data
    st, h, data, _ = req("/write?path=data/link/new.txt", "POST", b"x")
    assert data == b"error: data/link/new.txt: leads outside the site folder", data
    assert not os.path.exists(os.path.join(out, "new.txt"))


def test_cache_bounds_marker():
    st, h, data, _ = req("/cache")
    j = json.loads(data)
    assert j["entries"] <= 4 and j["bytes"] <= 1000, j
    assert j["entries2"] <= 4 and j["bytes2"] <= 1000, j


# ---- middleware, mounts, errors, methods ---------------------------------

def test_middleware_onion_order_and_short_circuit():
    c = http.client.HTTPConnection("127.0.0.1", atto.http, timeout=10)   # one connection: one worker
    c.request("GET", "/mw/x")
    r = c.getresponse()
    assert r.read() == b"handled"
    c.request("GET", "/trail")
    assert c.getresponse().read() == b"a-in,b-in,handler,b-out,a-out"
    c.request("GET", "/mw/x?deny=1")
    r = c.getresponse()
    assert r.status == 401 and r.read() == b"denied by middleware"
    c.request("GET", "/trail")
    assert c.getresponse().read() == b"a-in,b-in,a-out"
    c.close()


def test_mount_keeps_subsite_middleware():
    st, h, data, _ = req("/admin")
    assert data == b"admin home" and h.get("x-admin") == "1", (data, h)
    st, h, data, _ = req("/admin/users/7")
    assert data == b"user 7 path /admin/users/7" and h.get("x-admin") == "1", data


def test_error_pages_have_their_status():
    st, h, data, _ = req("/nope")
    assert st == 404 and data == b"<h1>custom 404</h1>", (st, data)
    st, h, data, _ = req("/only-post")
    assert st == 405 and data == b"<h1>custom 405</h1>" and h["allow"] == "OPTIONS, POST", (st, data, h)
    st, h, data, _ = req("/boom")
    assert st == 500 and data == b"<h1>custom 500</h1>", (st, data)
    time.sleep(0.1)
    assert "boom here" in atto.output() and "stack traceback" in atto.output()
    st, h, data, _ = req("/boom?fail=1")
    assert st == 500 and data == b"500 Internal Server Error\n", (st, data)
    st, h, data, _ = req("/static.txt")
    assert st == 200 and data == b"static\n"


def test_options_head_and_return_values():
    st, h, data, _ = req("/ret-str", "OPTIONS")
    assert st == 204 and h["allow"] == "GET, HEAD, OPTIONS", (st, h)
    st, h, data, _ = req("/ret-str", "HEAD")
    assert st == 200 and data == b"" and h["content-length"] == str(len(b"<p>string</p>")), (st, h)
    st, h, data, _ = req("/ret-str")
    assert data == b"<p>string</p>" and h["content-type"].startswith("text/html")
    st, h, data, _ = req("/ret-tbl")
    assert json.loads(data) == {"a": 1} and h["content-type"] == "application/json"
    out = lib.raw(atto.http, b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert lib.status_of(out) == 204 and b"\r\nallow: " in out.lower(), out


def test_timers_and_sleep():
    st, h, data, _ = req("/timers")
    j = json.loads(data)
    assert j["fired"] and j["every"] >= 3 and j["stopped"], j
    assert j["site_after"] == 1 and j["site_every"] >= 2 and j["site_every_stopped"], j


def test_sleep_does_not_block_the_worker():
    site = lib.tmp_site({"index.lua": 'site:get("/slow", function(req, res) atto.sleep(1); res:text("slow") end)\n'
                                      'site:get("/fast", function(req, res) res:text("fast") end)'})
    with lib.Atto(site, args=["--workers", "1"]) as a:
        s = socket.create_connection(("127.0.0.1", a.http))
        s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        t = time.time()
        st, h, data, _ = req("/fast", port=a.http)
        assert data == b"fast" and time.time() - t < 0.5
        s.settimeout(5)
        assert b"slow" in s.recv(1000)
        s.close()


if __name__ == "__main__":
    lib.run_with_server(globals(), setup, lambda: shutil.rmtree(SITE, ignore_errors=True))
