"""The plain Lua request path end to end: what lua/prelude.lua and
lua/lcore.c's core.send make of res:text/html/json/send (bodies that are
not strings, header order around the content-type, a second answer),
res.status_code's default, req.params on exact and {x} routes, the path
and query split, res:cookie's checks (which error wins, percent-encoding)
and the session cookie. These pin the behaviour the fast path (one C call
for head and body, presized req/res, no hooks without a session) must keep."""
import re, sys
import lib

INDEX = r'''
site:get("/num", function(req, res) res:text(123) end)
site:get("/nil", function(req, res) res:text() end)
site:get("/sendnil", function(req, res) res:send() end)
site:get("/tostr", function(req, res) res:html(setmetatable({}, { __tostring = function() return "TS" end })) end)
site:get("/replace", function(req, res)
  res:header("Content-Type", "text/x-mine"); res:header("x-a", "1"); res:text("t")
end)
site:get("/after", function(req, res) res:header("x-a", "1"); res:json({ a = 1 }) end)
site:get("/keepct", function(req, res) res:header("content-type", "a/b"); res:send("x") end)
site:get("/twice", function(req, res) res:text("a"); res:text("b") end)
site:get("/status", function(req, res)
  local before = res.status_code
  res:status(201)
  res:text(before .. " " .. res.status_code)
end)
site:get("/params", function(req, res)
  local p = req.params
  p.mine = "x"
  res:text(tostring(next(req.params)) .. " " .. tostring(req.params == p))
end)
site:get("/u/{x}", function(req, res) res:text(req.params.x) end)
site:get("/where", function(req, res) res:text(req.path .. " " .. req.raw_path .. " " .. tostring(req.query.a)) end)
site:get("/ck_order", function(req, res)
  res:cookie("a", "v", { path = "/p;q", samesite = "bogus" }); res:text("no")
end)
site:get("/ck_path", function(req, res) res:cookie("a", "v", { path = "/p;q" }); res:text("no") end)
site:get("/ck_first", function(req, res) res:cookie("a", "v", { domain = "a;b", expires = "x;y" }); res:text("no") end)
site:get("/ck_ok", function(req, res)
  res:cookie("a", "ok-_.~", { max_age = 5, domain = "d", httponly = true, samesite = "none" })
  res:cookie("b", "\195\169&= ", {})
  res:text("ok")
end)
site:get("/ck_crlf", function(req, res) res:cookie("a", "x\ny"); res:text("no") end)
site:get("/hdr_crlf", function(req, res) res:header("x-a", "x\r\n"); res:text("no") end)
site:get("/accepted", function(req, res) res:status(202) end)
site:get("/created", function(req, res) res:status(201):header("location", "/things/7") end)
site:get("/quiet", function(req, res) res:header("x-seen", "yes") end)
site:get("/nothing", function(req, res) end)
site:get("/quiet_session", function(req, res) req.session.n = 1 end)
site:get("/hdr", function(req, res)
  local one = tostring(req:header("X-A")) .. "|" .. tostring(req:header("cookie")) .. "|" .. tostring(req:header("x-none"))
  local t = req.headers   -- the table, built after: the same values
  res:text(one .. "\n" .. tostring(t["x-a"]) .. "|" .. tostring(t.cookie) .. "|" .. tostring(req:header("X-A")))
end)
site:get("/late", function(req, res) atto.sleep(0.01); res:text("late " .. req.query.n) end)
site:get("/late_end", function(req, res) atto.sleep(0.01) end)
site:get("/late_err", function(req, res) atto.sleep(0.01); error("after sleep") end)
site:get("/count", function(req, res)
  local s = req.session
  s.n = (s.n or 0) + 1
  res:text("n=" .. s.n)
end)
'''

atto = None


def setup():
    global atto
    atto = lib.Atto(lib.tmp_site({"index.lua": INDEX})).start()


def get(path, headers=None):
    return lib.http_get(atto.http, path, headers)


def raw_head(path):
    """The response head's header names in order (lower case)."""
    out = lib.raw(atto.http, ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
    head = out.split(b"\r\n\r\n", 1)[0].decode()
    return [line.split(":", 1)[0].lower() for line in head.split("\r\n")[1:]]


def test_body_not_a_string():
    assert get("/num")[::2] == (200, b"123")
    st, h, body = get("/nil")
    assert (st, body, h["content-length"], h["content-type"]) == (200, b"", "0", "text/plain; charset=utf-8")
    st, h, body = get("/sendnil")
    assert (st, body, h["content-type"]) == (200, b"", "text/html; charset=utf-8")
    st, h, body = get("/tostr")
    assert (st, body, h["content-type"]) == (200, b"TS", "text/html; charset=utf-8")


def test_content_type_place():
    st, h, body = get("/replace")   # replaced where it was set: before x-a
    assert h["content-type"] == "text/plain; charset=utf-8", h
    names = raw_head("/replace")
    assert names.index("content-type") < names.index("x-a"), names
    names = raw_head("/after")      # appended after the handler's headers
    assert names.index("x-a") < names.index("content-type"), names
    assert get("/after")[2] == b'{"a":1}'
    st, h, body = get("/keepct")    # res:send keeps the handler's content-type
    assert (h["content-type"], body) == ("a/b", b"x")


def test_errors_name_files_inside_the_site_whatever_its_path():
    """Lua cuts chunk names to 60 characters; a site in a long path still
    gets "index.lua:N" and "lib/util.lua:N" in its errors (at start, from a
    handler, from a module), never "...<tail of the path>"."""
    import os, subprocess
    base = lib.tmp_site({})
    deep = os.path.join(base, *(["a-rather-long-folder-name"] * 4), "mysite")
    os.makedirs(os.path.join(deep, "lib"))
    with open(os.path.join(deep, "lib", "util.lua"), "w") as f:
        f.write("local M = {}\nfunction M.boom()\n  error('util went wrong')\nend\nreturn M\n")
    with open(os.path.join(deep, "index.lua"), "w") as f:
        f.write('#!/usr/bin/env atto\nlocal util = require "lib.util"\n'
                'site:get("/boom", function(req, res) util.boom() end)\n'
                'site:get("/here", function(req, res) error("right here") end)\n')
    with lib.Atto(deep) as a:
        assert lib.http_get(a.http, "/boom")[0] == 500
        assert lib.http_get(a.http, "/here")[0] == 500
        out = a.output()
    assert "lib/util.lua:3: util went wrong" in out, out[-1500:]
    assert "index.lua:4: right here" in out, out[-1500:]
    assert "..." not in out.replace("...)", ""), out[-1500:]
    with open(os.path.join(deep, "index.lua"), "w") as f:
        f.write('site:get("/", function(req, res)\n  res:text("x"\nend)\n')
    p = subprocess.run([lib.ATTO, deep, "--http", "0"], capture_output=True, timeout=20)
    err = p.stderr.decode() + p.stdout.decode()
    assert p.returncode != 0 and "index.lua:3:" in err and "..." not in err, err


def test_second_answer_is_an_error():
    st, h, body = get("/twice")
    assert (st, body) == (200, b"a"), (st, body)
    assert re.search(r"index\.lua:\d+: the response has already been sent", atto.output()), atto.output()[-800:]


def test_status_code_default():
    assert get("/status")[::2] == (201, b"200 201")


def test_handler_that_answers_nothing():
    """A handler that returns without a body still answers with what it
    set: its status (204 when it set none) and its headers."""
    st, h, body = get("/accepted")
    assert (st, body, h.get("content-length")) == (202, b"", "0"), (st, h, body)
    st, h, body = get("/created")
    assert (st, body, h.get("location")) == (201, b"", "/things/7"), (st, h, body)
    st, h, body = get("/quiet")
    assert (st, body, h.get("x-seen")) == (204, b"", "yes"), (st, h, body)
    assert "content-length" not in h, h   # RFC 9110 8.6: none in a 204
    st, h, body = get("/nothing")
    assert (st, body) == (204, b""), (st, h, body)
    st, h, body = get("/quiet_session")
    assert st == 204 and "set-cookie" in h, h   # the session still gets its cookie
    out = lib.raw(atto.http, b"GET /accepted HTTP/1.1\r\nHost: x\r\n\r\nGET /num HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 202 ") and out.count(b"HTTP/1.1 200 ") == 1 and out.endswith(b"123"), out


def test_one_header_without_the_table():
    """req:header(name) before req.headers exists (read from C) joins repeats
    like the table does: ", " in general, "; " for cookies; and the session
    finds its cookie in a second Cookie header."""
    out = lib.raw(atto.http, b"GET /hdr HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nCookie: a=1\r\nx-a: 2\r\n"
                  b"Cookie: b=2\r\nConnection: close\r\n\r\n")
    body = out.split(b"\r\n\r\n", 1)[1]
    assert body == b"1, 2|a=1; b=2|nil\n1, 2|a=1; b=2|1, 2", body
    st, h, body = get("/count")
    sid = re.search(r"atto_sid=([0-9a-f]+)", h["set-cookie"]).group(1)
    out = lib.raw(atto.http, ("GET /count HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nCookie: atto_sid=%s\r\n"
                              "Connection: close\r\n\r\n" % sid).encode())
    assert out.endswith(b"n=2") and b"set-cookie" not in out.lower(), out


def test_params():
    assert get("/params")[2] == b"mine true"   # a fresh {} that keeps what the handler puts in
    assert get("/params")[2] == b"mine true"
    assert get("/u/abc")[2] == b"abc"
    assert get("/u/a%20b")[2] == b"a b"


def test_path_and_query():
    assert get("/where?a=1&b=2")[2] == b"/where /where?a=1&b=2 1"
    assert get("/wh%65re?a=%31")[2] == b"/where /wh%65re?a=%31 1"
    assert get("/where")[2] == b"/where /where nil"
    assert get("/a%2")[0] == 400
    assert get("/where?a=%zz")[0] == 400


def test_cookie_errors():
    assert get("/ck_order")[0] == 500
    assert "res:cookie: samesite must be Strict, Lax or None" in atto.output()
    assert get("/ck_path")[0] == 500
    assert "res:cookie: an attribute contains ';': Path=/p;q" in atto.output()
    assert get("/ck_first")[0] == 500
    assert "res:cookie: an attribute contains ';': Expires=x;y" in atto.output()
    assert get("/ck_crlf")[0] == 500
    assert "cookie value contains CR, LF or NUL" in atto.output()
    assert get("/hdr_crlf")[0] == 500
    assert "header value contains CR, LF or NUL" in atto.output()


def test_cookie_encoding():
    out = lib.raw(atto.http, b"GET /ck_ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    cookies = re.findall(rb"(?im)^set-cookie: (.*)\r$", out)
    assert cookies == [b"a=ok-_.~; Max-Age=5; Path=/; Domain=d; HttpOnly; SameSite=None; Secure",
                       b"b=%C3%A9%26%3D%20; Path=/"], cookies


def test_answers_after_a_sleep_on_one_connection():
    """A response finished from a timer (the handler slept) frees the
    connection's HTTP/1.1 state at once; the connection must go on serving,
    in order, whether the next request comes later or was pipelined."""
    import socket
    s = socket.create_connection(("127.0.0.1", atto.http), timeout=5)
    f = s.makefile("rb")

    def read_one():
        status = f.readline()
        length = 0
        while True:
            line = f.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        return status.split()[1], f.read(length)

    try:
        for n in range(3):          # one at a time, each finished by a timer
            s.sendall(b"GET /late?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % n)
            assert read_one() == (b"200", b"late %d" % n)
        s.sendall(b"GET /late?n=a HTTP/1.1\r\nHost: x\r\n\r\nGET /late_end HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /late_err HTTP/1.1\r\nHost: x\r\n\r\nGET /num HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /late?n=b HTTP/1.1\r\nHost: x\r\n\r\n")
        got = [read_one() for _ in range(5)]
        assert [g[0] for g in got] == [b"200", b"204", b"500", b"200", b"200"], got
        assert (got[0][1], got[3][1], got[4][1]) == (b"late a", b"123", b"late b"), got
    finally:
        s.close()
    assert "after sleep" in atto.output()


def test_session_cookie():
    st, h, body = get("/count")
    assert body == b"n=1"
    c = h["set-cookie"]
    m = re.match(r"atto_sid=([A-Za-z0-9_-]+); Path=/; HttpOnly; SameSite=Lax$", c)
    assert m, c
    st, h, body = get("/count", {"Cookie": "atto_sid=" + m.group(1)})
    assert body == b"n=2" and "set-cookie" not in h, (body, h)


if __name__ == "__main__":
    lib.run_with_server(globals(), setup)
