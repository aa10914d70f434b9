"""HTTP/1.1 end to end: the hello site, routing, pipelining, keep-alive,
request-smuggling shapes, limits, timeouts, handler errors, and the command
line's answers to bad input. Real clients: curl, http.client, raw sockets."""
import os, socket, subprocess, time, signal
import lib

HELLO = "sites/hello"

SITE = lib.tmp_site({
    "index.lua": r'''
site:listen{ header_timeout = 1, keepalive_timeout = 2, max_body = 1000 }
site:get("/", function(req, res) res:text("root") end)
site:get("/hello/{name}", function(req, res) res:text("Hello " .. req.params.name) end)
site:get("/files/*", function(req, res) res:text("rest=" .. req.params["*"]) end)
site:get("/files/special", function(req, res) res:text("exact") end)
site:get("/u/{id}/posts", function(req, res) res:text("posts of " .. req.params.id) end)
site:post("/echo", function(req, res) res:send(req.body, "application/octet-stream") end)
site:put("/echo", function(req, res) res:text("put " .. #req.body) end)
site:get("/boom", function(req, res) error("kaboom") end)
site:get("/loop", function(req, res) while true do end end)
site:get("/query", function(req, res)
  local q = req.query
  local a = q.a
  if type(a) == "table" then a = table.concat(a, ",") end
  res:text("a=" .. tostring(a) .. " b=" .. tostring(q.b))
end)
site:get("/headers", function(req, res) res:text(req.headers["x-multi"] or "none") end)
site:get("/json", function(req, res) return { ok = true } end)
site:get("/html", function(req, res) return "<p>hi</p>" end)
site:get("/sleep", function(req, res) atto.sleep(0.3); res:text("slept") end)
site:get("/stream", function(req, res)
  for i = 1, 3 do res:write("part" .. i .. "\n") end
  res:finish()
end)
site:get("/badheader", function(req, res) res:header("x-evil", "a\r\nb: c"); res:text("no") end)
site:get("/status", function(req, res) res:status(201):header("X-Thing", "yes"):text("made") end)
site:route("PROPFIND", "/dav", function(req, res) res:status(207):text("multi") end)
site:get("/info", function(req, res)
  res:json{ method = req.method, path = req.path, raw = req.raw_path, proto = req.protocol,
            addr = req.remote_addr, scheme = req.scheme, host = req.host }
end)
''',
    "public/static.txt": "static file\n",
})


def req(port, path, method="GET", headers=None, body=None):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


atto = None


def setup():
    global atto
    atto = lib.Atto(SITE, args=["--workers", "2"]).start()


def test_hello_site_with_curl():
    with lib.Atto(HELLO) as a:
        rc, out, err = lib.curl("-i", "http://127.0.0.1:%d/" % a.http)
        assert rc == 0, err
        assert b"HTTP/1.1 200 OK" in out and b"Hello World!" in out
        assert b"\r\nServer: atto\r\n" in out and b"\r\nDate: " in out
        rc, out, err = lib.curl("http://127.0.0.1:%d/hello/curl" % a.http)
        assert out == b"Hello curl", out
        rc, out, err = lib.curl("http://[::1]:%d/api/time" % a.http)
        assert b'"now"' in out, out
        rc, out, err = lib.curl("-d", "name=Ann & Bob", "http://127.0.0.1:%d/greet" % a.http)
        assert b"Nice to meet you, Ann " in out, out
        rc, out, err = lib.curl("http://127.0.0.1:%d/about.html" % a.http)
        assert b"<h1>About</h1>" in out


def test_params_and_specificity():
    assert req(atto.http, "/hello/world")[2] == b"Hello world"
    assert req(atto.http, "/files/a/b/c.txt")[2] == b"rest=a/b/c.txt"
    assert req(atto.http, "/files/special")[2] == b"exact"
    assert req(atto.http, "/u/42/posts")[2] == b"posts of 42"
    assert req(atto.http, "/hello/a%20b")[2] == b"Hello a b"


def test_not_found_and_static_fallback():
    st, h, body = req(atto.http, "/nothing/here")
    assert st == 404, st
    st, h, body = req(atto.http, "/static.txt")
    assert st == 200 and body == b"static file\n" and h["content-type"].startswith("text/plain")


def test_405_with_allow_and_options():
    st, h, body = req(atto.http, "/echo", method="GET")
    assert st == 405, st
    assert h["allow"] == "OPTIONS, POST, PUT", h
    st, h, body = req(atto.http, "/echo", method="OPTIONS")
    assert st == 204 and "POST" in h["allow"]


def test_head_answers_like_get_without_body():
    st, h, body = req(atto.http, "/hello/x", method="HEAD")
    assert st == 200 and body == b"" and h["content-length"] == "7", (st, h)


def test_custom_method_route():
    st, h, body = req(atto.http, "/dav", method="PROPFIND")
    assert st == 207 and body == b"multi"


def test_query_repeated_keys():
    assert req(atto.http, "/query?a=1&a=2&b=x%20y")[2] == b"a=1,2 b=x y"


def test_repeated_headers_joined():
    out = lib.raw(atto.http, b"GET /headers HTTP/1.1\r\nHost: x\r\nX-Multi: a\r\nX-Multi: b\r\nConnection: close\r\n\r\n")
    assert out.endswith(b"a, b"), out


def test_return_values_json_and_html():
    st, h, body = req(atto.http, "/json")
    assert h["content-type"] == "application/json" and body == b'{"ok":true}'
    st, h, body = req(atto.http, "/html")
    assert h["content-type"].startswith("text/html") and body == b"<p>hi</p>"


def test_status_and_headers():
    st, h, body = req(atto.http, "/status")
    assert st == 201 and h["x-thing"] == "yes" and body == b"made"


def test_request_fields():
    import json
    st, h, body = req(atto.http, "/info?z=1", headers={"Host": "example.test"})
    j = json.loads(body)
    assert j == {"method": "GET", "path": "/info", "raw": "/info?z=1", "proto": "HTTP/1.1",
                 "addr": "127.0.0.1", "scheme": "http", "host": "example.test"}, j


def test_header_injection_is_a_500_not_sent():
    st, h, body = req(atto.http, "/badheader")
    assert st == 500 and "x-evil" not in h, (st, h)


def test_handler_error_is_500_and_server_lives():
    st, h, body = req(atto.http, "/boom")
    assert st == 500 and b"kaboom" not in body, body
    assert req(atto.http, "/")[2] == b"root"
    assert "kaboom" in atto.output() and ":10:" in atto.output(), atto.output()


def test_runaway_handler_is_stopped():
    st, h, body = req(atto.http, "/loop")
    assert st == 500, st
    assert req(atto.http, "/")[2] == b"root"


def test_sleep_yields_and_others_are_served():
    import threading
    result = {}
    t = threading.Thread(target=lambda: result.update(r=req(atto.http, "/sleep")))
    t0 = time.time()
    t.start()
    time.sleep(0.05)
    assert req(atto.http, "/")[2] == b"root"
    assert time.time() - t0 < 0.3, "a sleeping handler blocked the worker"
    t.join()
    assert result["r"][2] == b"slept"


def test_streaming_is_chunked():
    out = lib.raw(atto.http, b"GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in out
    assert out.endswith(b"6\r\npart1\n\r\n6\r\npart2\n\r\n6\r\npart3\n\r\n0\r\n\r\n"), out
    out = lib.raw(atto.http, b"GET /stream HTTP/1.0\r\n\r\n")
    assert b"Transfer-Encoding" not in out and out.endswith(b"part1\npart2\npart3\n"), out


def test_keepalive_and_pipelining_in_order():
    s = socket.create_connection(("127.0.0.1", atto.http), timeout=5)
    batch = b"".join(b"GET /hello/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(20))
    s.sendall(batch + b"GET /sleep HTTP/1.1\r\nHost: x\r\n\r\nGET /hello/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    bodies = [p.split(b"\r\n\r\n", 1)[1][:20] for p in data.split(b"HTTP/1.1 200 OK")[1:]]
    expect = [b"Hello %d" % i for i in range(20)] + [b"slept", b"Hello last"]
    got = [b[:len(e)] for b, e in zip(bodies, expect)]
    assert got == expect, bodies


def test_post_bodies_content_length_and_chunked():
    st, h, body = req(atto.http, "/echo", method="POST", body=b"abc\x00def")
    assert body == b"abc\x00def", body
    rc, out, err = lib.curl("-H", "Transfer-Encoding: chunked", "--data-binary", "x" * 500,
                            "http://127.0.0.1:%d/echo" % atto.http)
    assert out == b"x" * 500, out[:50]
    out = lib.raw(atto.http, b"PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                  b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n")
    assert out.endswith(b"put 5"), out


def test_expect_100_continue():
    s = socket.create_connection(("127.0.0.1", atto.http), timeout=5)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
    first = s.recv(100)
    assert first == b"HTTP/1.1 100 Continue\r\n\r\n", first
    s.sendall(b"data")
    rest = s.recv(1000)
    assert b"200 OK" in rest and rest.endswith(b"data")
    s.close()


def test_http10_client():
    out = lib.raw(atto.http, b"GET /hello/old HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200") and out.endswith(b"Hello old") and b"Connection: close" in out
    s = socket.create_connection(("127.0.0.1", atto.http), timeout=5)
    s.sendall(b"GET /hello/ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    time.sleep(0.2)
    first = s.recv(1000)
    assert b"Connection: keep-alive" in first
    s.sendall(b"GET /hello/again HTTP/1.0\r\n\r\n")
    time.sleep(0.2)
    assert s.recv(1000).endswith(b"Hello again")
    s.close()


def test_absolute_form_target():
    out = lib.raw(atto.http, b"GET http://example.test/hello/abs HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
    assert out.endswith(b"Hello abs"), out


SMUGGLING = {
    "cl_and_te": b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "differing_cl": b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "bare_lf_request_line": b"GET / HTTP/1.1\nHost: x\r\n\r\n",
    "obs_fold": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
    "space_before_colon": b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    "bare_cr": b"GET / HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n",
    "bad_chunk_size": b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "missing_host": b"GET / HTTP/1.1\r\n\r\n",
    "negative_cl": b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
}


def test_smuggling_shapes_get_400_and_close():
    for name, data in SMUGGLING.items():
        out = lib.raw(atto.http, data + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert lib.status_of(out) == 400, (name, out)
        assert out.count(b"HTTP/1.1") == 1, (name, "answered after a 400", out)
        assert b"Connection: close" in out, name


def test_limits_431_413_414():
    big = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 20000 + b"\r\n\r\n"
    assert lib.status_of(lib.raw(atto.http, big)) == 431
    many = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(120)) + b"\r\n"
    assert lib.status_of(lib.raw(atto.http, many)) == 431
    assert lib.status_of(lib.raw(atto.http, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")) == 413
    out = lib.raw(atto.http, b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + b"400\r\n" + b"a" * 1024 + b"\r\n" + b"400\r\n" + b"a" * 1024 + b"\r\n0\r\n\r\n")
    assert lib.status_of(out) == 413, out
    assert lib.status_of(lib.raw(atto.http, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")) == 414
    assert lib.status_of(lib.raw(atto.http, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")) == 505


def test_slow_client_gets_408_and_idle_is_closed():
    s = socket.create_connection(("127.0.0.1", atto.http), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHo")
    t0 = time.time()
    out = s.recv(1000)
    assert lib.status_of(out) == 408 and time.time() - t0 < 3, out
    s.close()
    s = socket.create_connection(("127.0.0.1", atto.http), timeout=6)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(1000)
    t0 = time.time()
    assert s.recv(1000) == b""       # closed when idle
    assert 1 < time.time() - t0 < 5
    s.close()


def test_reset_peer_does_not_hurt():
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", atto.http))
        s.sendall(b"GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    time.sleep(0.5)
    assert req(atto.http, "/")[2] == b"root"


def run_atto(*args, timeout=10, input=None):
    p = subprocess.run([lib.ATTO] + list(args), capture_output=True, timeout=timeout,
                       input=input, cwd=lib.ROOT)
    return p.returncode, (p.stdout + p.stderr).decode()


def test_cli_bad_input_one_clear_line():
    rc, out = run_atto("/no/such/site")
    assert rc != 0 and "/no/such/site" in out and len(out.strip().splitlines()) == 1, out
    rc, out = run_atto(HELLO, "--bogus")
    assert rc != 0 and "--bogus" in out, out
    rc, out = run_atto(HELLO, "--http", "99999")
    assert rc != 0 and "--http" in out, out
    bad = lib.tmp_site({"index.lua": "site:get('/', function(req, res)\n  res:text('x'\nend)\n"})
    rc, out = run_atto(bad, "--http", "0", "--https", "0")
    assert rc != 0 and "index.lua:3:" in out and "Traceback" not in out, out
    rc, out = run_atto("check", bad)
    assert rc == 1 and "index.lua:3:" in out, out
    rc, out = run_atto("check", HELLO)
    assert rc == 0 and "ok" in out, out


def test_port_in_use_is_named():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    rc, out = run_atto(HELLO, "--http", str(port), "--https", "0", "--gopher", "0")
    s.close()
    assert rc != 0 and str(port) in out and "in use" in out, out
    assert len(out.strip().splitlines()) == 1, out


def test_sigterm_finishes_inflight_request():
    a = lib.Atto(SITE).start()
    import threading
    result = {}
    t = threading.Thread(target=lambda: result.update(r=req(a.http, "/sleep")))
    t.start()
    time.sleep(0.1)
    a.proc.send_signal(signal.SIGTERM)
    t.join(5)
    assert result.get("r", (0, 0, b""))[2] == b"slept", result
    assert a.proc.wait(timeout=12) == 0
    assert "stopped" in a.output()


def test_access_log_combined_format():
    import tempfile, re
    logf = os.path.join(tempfile.mkdtemp(), "access.log")
    with lib.Atto(SITE, args=["--log", logf]) as a:
        lib.curl("-A", 'agent "x"', "-e", "http://ref.test/", "http://127.0.0.1:%d/hello/log" % a.http)
        req(a.http, "/nothing")
    lines = open(logf).read().splitlines()
    assert len(lines) == 2, lines
    assert re.match(r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] '
                    r'"GET /hello/log HTTP/1\.1" 200 9 "http://ref\.test/" "agent \\x22x\\x22"$', lines[0]), lines[0]
    assert '"GET /nothing HTTP/1.1" 404 ' in lines[1], lines[1]


def test_new_scaffolds_a_runnable_site():
    import tempfile
    d = os.path.join(tempfile.mkdtemp(), "mysite")
    rc, out = run_atto("new", d)
    assert rc == 0 and os.path.exists(os.path.join(d, "index.lua")), out
    with lib.Atto(d) as a:
        assert req(a.http, "/hello/new")[2] == b"Hello new"
    rc, out = run_atto("new", d)
    assert rc != 0 and "exists" in out


if __name__ == "__main__":
    lib.run_with_server(globals(), setup)
