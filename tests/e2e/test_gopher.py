"""test_gopher.py — Gopher end to end: curl's gopher:// client, lynx -dump,
and raw sockets for the bad inputs (empty selector, "..", NUL, a 100 KB
line, a client that never sends) and 500 connections in a row.

Run: /usr/bin/python3 tests/e2e/test_gopher.py [test_name ...]
"""
import os, socket, subprocess, sys, time, threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib

HOLE = "sites/gopherhole"
_srv = None


def hole():
    """One shared server for the read-only tests on the example site."""
    global _srv
    if _srv is None:
        _srv = lib.Atto(HOLE, enable=("gopher",)).start()
    return _srv


def gopher(port, line, timeout=5.0):
    return lib.raw(port, line, timeout=timeout)


def curl(url):
    rc, out, err = lib.curl(url)
    assert rc == 0, "curl %s: exit %d %s" % (url, rc, err)
    return out


def lines(reply):
    assert reply.endswith(b".\r\n"), "reply does not end with .CRLF: %r" % reply[-40:]
    return reply[:-3].split(b"\r\n")[:-1]


def lynx(url):
    p = subprocess.run(["lynx", "-dump", url],
                       capture_output=True, timeout=20)
    assert p.returncode == 0, "lynx: %s" % p.stderr.decode(errors="replace")
    return p.stdout.decode(errors="replace")


def site_with(index, files=None):
    f = {"index.lua": index}
    f.update(files or {})
    return lib.tmp_site(f)


# ---- the example site through curl ------------------------------------------

def test_curl_root_menu():
    a = hole()
    menu = lines(curl("gopher://127.0.0.1:%d/1/" % a.gopher))
    assert menu[0] == b"iWelcome to the Atto gopherhole\tfake\t(NULL)\t0", menu[0]
    want = b"0About this gopherhole\t/about.txt\tlocalhost\t%d" % a.gopher
    assert want in menu, menu
    assert b"7Ask the magic eight ball\t/8ball\tlocalhost\t%d" % a.gopher in menu
    assert b"1Floodgap, the home of Gopher today\t/\tgopher.floodgap.com\t70" in menu
    assert b"hLua, on the web\tURL:https://www.lua.org/\tlocalhost\t%d" % a.gopher in menu
    for l in menu:
        assert l.count(b"\t") == 3, l


def test_curl_text_is_dot_stuffed():
    a = hole()
    out = curl("gopher://127.0.0.1:%d/0/about.txt" % a.gopher)
    assert out.endswith(b"selector /about.txt.\r\n.\r\n"), out[-60:]
    assert b"\r\n..a line that starts with a dot" in out
    assert b"\n" not in out.replace(b"\r\n", b"")


def test_curl_gophermap():
    a = hole()
    menu = lines(curl("gopher://127.0.0.1:%d/1/library" % a.gopher))
    p = a.gopher
    assert menu[0] == b"iThe library\tfake\t(NULL)\t0"
    assert b"0A short history of Gopher\t/library/history.txt\tlocalhost\t%d" % p in menu
    assert b"1Pictures\t/library/pictures\tlocalhost\t%d" % p in menu
    assert b"hThe RFC on the web\tURL:https://www.rfc-editor.org/rfc/rfc1436\tlocalhost\t%d" % p in menu
    assert not any(l.startswith(b"i#") for l in menu), "comments leaked"
    # "*": the folder listing follows, without the gophermap itself
    assert b"0history.txt\t/library/history.txt\tlocalhost\t%d" % p in menu
    assert not any(b"gophermap" in l for l in menu)


def test_curl_folder_listing_types():
    a = hole()
    menu = lines(curl("gopher://127.0.0.1:%d/1/library/pictures/" % a.gopher))
    p = a.gopher
    assert menu == [b"0README\t/library/pictures/README\tlocalhost\t%d" % p,
                    b"gdot.gif\t/library/pictures/dot.gif\tlocalhost\t%d" % p], menu


def test_curl_binary_as_is():
    a = hole()
    out = curl("gopher://127.0.0.1:%d/g/library/pictures/dot.gif" % a.gopher)
    with open(os.path.join(lib.ROOT, HOLE, "gopher/library/pictures/dot.gif"), "rb") as f:
        assert out == f.read()


def test_curl_search_eight_ball():
    a = hole()
    menu = lines(curl("gopher://127.0.0.1:%d/7/8ball%%09will%%20it%%20rain" % a.gopher))
    assert menu[0] == b"iYou asked: will it rain\tfake\t(NULL)\t0", menu
    assert menu[1].startswith(b"iThe eight ball says: ")
    again = lines(curl("gopher://127.0.0.1:%d/7/8ball%%09will%%20it%%20rain" % a.gopher))
    assert again == menu, "the answer is a function of the question"
    empty = lines(curl("gopher://127.0.0.1:%d/7/8ball" % a.gopher))
    assert empty[0].startswith(b"3Ask the eight ball"), empty


def test_curl_counter():
    a = hole()
    menu = lines(curl("gopher://127.0.0.1:%d/1/addone/41" % a.gopher))
    assert menu[0] == b"iThe number is 41.\tfake\t(NULL)\t0"
    assert menu[1] == b"1Add one (42)\t/addone/42\tlocalhost\t%d" % a.gopher
    bad = lines(curl("gopher://127.0.0.1:%d/1/addone/x" % a.gopher))
    assert bad == [b"3not a number: x\t\terror.host\t1"], bad


def test_custom_error():
    a = hole()
    menu = lines(curl("gopher://127.0.0.1:%d/1/nowhere" % a.gopher))
    assert menu[0].startswith(b"3Nothing at /nowhere"), menu
    assert b"1Back to the start\t/\tlocalhost\t%d" % a.gopher in menu


def test_url_selector_redirect_page():
    a = hole()
    out = gopher(a.gopher, b"URL:https://example.org/?a=<b>\r\n")
    assert b'content="2;URL=https://example.org/?a=&lt;b&gt;"' in out, out
    out = gopher(a.gopher, b"URL:javascript:alert(1)\r\n")
    assert out.startswith(b"3URL: selectors lead to"), out


# ---- lynx --------------------------------------------------------------------

def test_lynx_menu():
    a = hole()
    out = lynx("gopher://127.0.0.1:%d/" % a.gopher)
    assert "Welcome to the Atto gopherhole" in out, out
    assert "(FILE) [1]About this gopherhole" in out, out
    assert " (DIR) [2]The library" in out
    assert "gopher://localhost:%d/1/addone/0" % a.gopher in out
    assert "gopher://localhost:%d/7/8ball" % a.gopher in out


def test_lynx_text_and_search():
    a = hole()
    out = lynx("gopher://127.0.0.1:%d/0/library/history.txt" % a.gopher)
    assert "Gopher was created in 1991" in out, out
    out = lynx("gopher://127.0.0.1:%d/7/8ball?is it true" % a.gopher)
    assert "You asked: is it true" in out, out
    out = lynx("gopher://127.0.0.1:%d/1/library" % a.gopher)
    assert "[1]A short history of Gopher" in out and "(IMG)" not in out.split("Below")[0], out


# ---- bad input over raw sockets -----------------------------------------------

def test_empty_selector_is_root():
    a = hole()
    root = gopher(a.gopher, b"/\r\n")
    assert gopher(a.gopher, b"\r\n") == root
    assert gopher(a.gopher, b"\n") == root
    assert root.startswith(b"iWelcome")


def test_lf_only_and_gopher_plus_marker():
    a = hole()
    ref = gopher(a.gopher, b"/addone/1\r\n")
    assert gopher(a.gopher, b"/addone/1\n") == ref
    assert gopher(a.gopher, b"/addone/1\t$\r\n") == ref
    assert gopher(a.gopher, b"addone/1\r\n") == ref, "a selector without the leading /"
    ans = gopher(a.gopher, b"/8ball\tcats\t+\r\n")
    assert ans.startswith(b"iYou asked: cats\t"), ans


def test_dotdot_nul_backslash_refused():
    a = hole()
    for line, why in ((b"/../index.lua\r\n", b"'..' in the selector"),
                      (b"/library/../../index.lua\r\n", b"'..' in the selector"),
                      (b"..\r\n", b"'..' in the selector"),
                      (b"/about.txt\x00.gif\r\n", b"NUL in the selector line"),
                      (b"/library\\history.txt\r\n", b"backslash in the selector")):
        out = gopher(a.gopher, line)
        assert out == b"3" + why + b"\t\terror.host\t1\r\n.\r\n", (line, out)


def test_100kb_line():
    a = hole()
    s = socket.create_connection(("127.0.0.1", a.gopher), timeout=5)
    try:
        try:
            s.sendall(b"/" + b"a" * 100 * 1024 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    assert out.startswith(b"3selector line too long\t\terror.host\t1\r\n"), out[:100]


def test_client_that_never_sends():
    d = site_with('site:gopher("/", function(req, res) res:info("hi") end)\n'
                  'site:listen{ gopher_timeout = 0.5 }\n')
    with lib.Atto(d, enable=("gopher",)) as a:
        s = socket.create_connection(("127.0.0.1", a.gopher), timeout=5)
        t0 = time.time()
        data = s.recv(100)
        took = time.time() - t0
        s.close()
        assert data == b"", data
        assert 0.3 < took < 3, "closed after %.2f s, configured 0.5 s" % took
        # a client that sends half a line in time is also cut at the timeout
        s = socket.create_connection(("127.0.0.1", a.gopher), timeout=5)
        s.sendall(b"/abc")
        assert s.recv(100) == b""
        s.close()
        assert lines(gopher(a.gopher, b"/\r\n")) == [b"ihi\tfake\t(NULL)\t0"]


def test_500_connections_in_a_row():
    a = hole()
    ref = gopher(a.gopher, b"/\r\n")
    assert ref.endswith(b".\r\n")
    bad = 0
    for i in range(500):
        if gopher(a.gopher, b"/\r\n") != ref:
            bad += 1
    assert bad == 0, "%d of 500 replies incomplete" % bad


def test_half_close_after_line():
    a = hole()
    out = lib.raw(a.gopher, b"/addone/5\r\n", shutdown=True)
    assert out.startswith(b"iThe number is 5.") and out.endswith(b".\r\n"), out
    out = lib.raw(a.gopher, b"/addone/6", shutdown=True)   # no CRLF, then EOF
    assert out.startswith(b"iThe number is 6."), out
    assert lib.raw(a.gopher, b"", shutdown=True) == b""


# ---- handlers ---------------------------------------------------------------

BOOM = '''site:gopher("/boom", function(req, res)
  res:info("about to fail")
  error("kaboom")
end)
site:gopher("/early", function(req, res) local x = nil; return x.y end)
site:gopher("/loop", function(req, res) while true do end end)
site:gopher("/file/{name}", function(req, res) res:file("files/" .. req.params.name) end)
site:gopher("/escape", function(req, res) res:file("../etc/passwd") end)
site:gopher("/mixed", function(req, res) res:info("x"); res:text("y") end)
site:gopher("/badport", function(req, res) res:menu{ {type="1", text="x", selector="/", port=70000} } end)
site:gopher("/ret", function(req, res) return { {type="0", text="T", selector="/t"} } end)
site:gopher("/slow", function(req, res) atto.sleep(0.5); res:text("slow") end)
site:gopher("/fast", function(req, res) res:text("fast") end)
site:gopher("/params/{a}/*", function(req, res)
  res:text(req.params.a .. "|" .. req.params["*"] .. "|" .. tostring(req.query) .. "|" .. req.remote_addr)
end)
site:listen{ handler_timeout = 1, gopher_host = "gopher.example" }
'''


def boom_site():
    return site_with(BOOM, {"files/blob.bin": bytes(range(256)) * 4,
                            "gopher/.secret": "hidden", "gopher/pub.txt": "public\n",
                            "gopher/sub/x.txt": "x\n"})


def test_handler_error_is_type3_and_logged():
    with lib.Atto(boom_site(), enable=("gopher",)) as a:
        out = gopher(a.gopher, b"/boom\r\n")
        assert out == (b"iabout to fail\tfake\t(NULL)\t0\r\n"
                       b"3Internal server error\t\terror.host\t1\r\n.\r\n"), out
        out = gopher(a.gopher, b"/early\r\n")
        assert out == b"3Internal server error\t\terror.host\t1\r\n.\r\n", out
        log = a.output()
        assert "gopher /boom: index.lua:3: kaboom" in log, log
        assert "index.lua:5: attempt to index a nil value" in log, log
        assert "/opt/" not in log and a.site + "/index.lua" not in log


def test_runaway_handler_stopped():
    with lib.Atto(boom_site(), enable=("gopher",)) as a:
        t0 = time.time()
        out = gopher(a.gopher, b"/loop\r\n", timeout=10)
        assert out == b"3Internal server error\t\terror.host\t1\r\n.\r\n", out
        assert time.time() - t0 < 5
        assert "longer than 1000 ms" in a.output()
        assert gopher(a.gopher, b"/fast\r\n") == b"fast\r\n.\r\n"


def test_res_file_and_safety():
    with lib.Atto(boom_site(), enable=("gopher",)) as a:
        assert gopher(a.gopher, b"/file/blob.bin\r\n") == bytes(range(256)) * 4
        out = gopher(a.gopher, b"/file/nothere\r\n")
        assert out == b"3Internal server error\t\terror.host\t1\r\n.\r\n", out
        assert "res:file: files/nothere: no such file" in a.output()
        out = gopher(a.gopher, b"/escape\r\n")
        assert out.startswith(b"3Internal server error"), out
        assert "outside the site folder" in a.output()


def test_res_misuse_is_an_error():
    with lib.Atto(boom_site(), enable=("gopher",)) as a:
        out = gopher(a.gopher, b"/mixed\r\n")
        assert out == b"ix\tfake\t(NULL)\t0\r\n3Internal server error\t\terror.host\t1\r\n.\r\n", out
        assert "res:text after menu lines" in a.output()
        out = gopher(a.gopher, b"/badport\r\n")
        assert out == b"3Internal server error\t\terror.host\t1\r\n.\r\n", out
        assert "port is 0 to 65535" in a.output()


def test_returned_table_is_menu_and_host_option():
    with lib.Atto(boom_site(), enable=("gopher",)) as a:
        out = gopher(a.gopher, b"/ret\r\n")
        assert out == b"0T\t/t\tgopher.example\t%d\r\n.\r\n" % a.gopher, out


def test_params_query_remote_addr():
    with lib.Atto(boom_site(), enable=("gopher",)) as a:
        out = gopher(a.gopher, b"/params/x/y/z\tq w\r\n")
        assert out == b"x|y/z|q w|127.0.0.1\r\n.\r\n", out
        out = gopher(a.gopher, b"/params/x/y\r\n")
        assert out == b"x|y|nil|127.0.0.1\r\n.\r\n", out


def test_sleeping_handler_does_not_block_others():
    with lib.Atto(boom_site(), enable=("gopher",), args=("--workers", "1")) as a:
        got = {}

        def slow():
            got["slow"] = (gopher(a.gopher, b"/slow\r\n"), time.time())
        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.1)
        fast = gopher(a.gopher, b"/fast\r\n")
        t_fast = time.time()
        t.join()
        assert fast == b"fast\r\n.\r\n"
        assert got["slow"][0] == b"slow\r\n.\r\n"
        assert t_fast < got["slow"][1], "the fast reply waited for the sleeping one"


def test_static_fallback_hidden_and_symlink():
    d = boom_site()
    os.symlink("/etc", os.path.join(d, "gopher", "etc"))
    with lib.Atto(d, enable=("gopher",)) as a:
        menu = lines(gopher(a.gopher, b"/\r\n"))
        assert menu == [b"0pub.txt\t/pub.txt\tgopher.example\t%d" % a.gopher,
                        b"1sub\t/sub\tgopher.example\t%d" % a.gopher], menu
        assert gopher(a.gopher, b"/pub.txt\r\n") == b"public\r\n.\r\n"
        assert gopher(a.gopher, b"/.secret\r\n").startswith(b"3Not found: /.secret")
        out = gopher(a.gopher, b"/etc/passwd\r\n")
        assert out.startswith(b"3the selector leads outside the gopher folder"), out


def test_folder_only_site():
    d = lib.tmp_site({"public/index.html": "<p>web</p>", "gopher/a.txt": "a\n"})
    with lib.Atto(d, enable=("gopher",)) as a:
        menu = lines(curl("gopher://127.0.0.1:%d/1/" % a.gopher))
        assert menu == [b"0a.txt\t/a.txt\tlocalhost\t%d" % a.gopher], menu
        out = gopher(a.gopher, b"/missing\r\n")
        assert out == b"3Not found: /missing\t\terror.host\t1\r\n.\r\n", out


def test_mounted_subsite_and_error_string():
    d = site_with('local sub = atto.site()\n'
                  'sub:gopher("/hi/{who}", function(req, res) res:text("hi " .. req.params.who) end)\n'
                  'site:mount("/sub", sub)\n'
                  'site:gopher_error(function(req, res, msg) return "custom: " .. msg end)\n')
    with lib.Atto(d, enable=("gopher",)) as a:
        assert gopher(a.gopher, b"/sub/hi/bob\r\n") == b"hi bob\r\n.\r\n"
        out = gopher(a.gopher, b"/sub/nope\r\n")
        assert out == b"3custom: Not found: /sub/nope\t\terror.host\t1\r\n.\r\n", out


def test_no_routes_no_folder_no_listener():
    d = lib.tmp_site({"index.lua": 'site:get("/", function(req, res) res:text("x") end)\n'})
    a = lib.Atto(d, enable=("http", "gopher"))
    a.start(wait=False)
    try:
        assert lib.wait_port(a.http)
        time.sleep(0.3)
        try:
            socket.create_connection(("127.0.0.1", a.gopher), timeout=1).close()
            opened = True
        except OSError:
            opened = False
        assert not opened, "gopher listener opened for a site without Gopher"
    finally:
        a.stop()


if __name__ == "__main__":
    try:
        failed = lib.main(globals())
    finally:
        if _srv is not None:
            _srv.stop()
    sys.exit(1 if failed else 0)
