"""sites/examples end to end: one test per classic Atto WebSite story, driven
with curl (-F uploads, --cookie-jar/--cookie, -L, -k) and http.client. The
site is copied to a temporary folder so the tests never touch the tree."""
import http.client, os, shutil, socket, tempfile, time
import urllib.parse
import lib

SITE = None
atto = None


def setup():
    global SITE, atto
    SITE = tempfile.mkdtemp(prefix="atto-examples-")
    shutil.copytree(os.path.join(lib.ROOT, "sites/examples"), SITE, dirs_exist_ok=True)
    atto = lib.Atto(SITE, enable=("http", "https"), args=["--workers", "2"]).start()


def url(path):
    return "http://127.0.0.1:%d%s" % (atto.http, path)


def get(path, headers=None, method="GET", body=None):
    c = http.client.HTTPConnection("127.0.0.1", atto.http, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def test_basic_page():
    st, h, body = get("/")
    assert st == 200 and b"<h1>Hello World!</h1>" in body, body
    assert h["content-type"].startswith("text/html")
    for link in (b'href="/upload"', b'href="/counter"', b'href="/template"'):
        assert link in body


def test_static_files():
    rc, out, err = lib.curl("-i", url("/hello.txt"))
    assert b" 200 " in out.split(b"\r\n")[0] and out.endswith(b"Hello from public/hello.txt\n"), out
    assert b"text/plain" in out
    st, h, body = get("/style.css")
    assert st == 200 and b"font-family" in body and "css" in h["content-type"]


def test_error_pages_404_and_500():
    st, h, body = get("/missing")
    assert st == 404 and b"<h1>Nothing here</h1>" in body and b"/missing" in body, (st, body)
    st, h, body = get("/boom")
    assert st == 500 and b"<h1>Sorry</h1>" in body, (st, body)
    assert b"a bug in a handler" not in body          # never shown to clients
    out = atto.output()
    assert "a bug in a handler" in out and "index.lua:" in out, out[-2000:]


def test_get_form_variables():
    st, h, body = get("/get?name=Ann+Lee&color=red&color=blue")
    assert st == 200 and b"name = Ann Lee, color = red, blue" in body, body
    st, h, body = get("/get?name=%3Cscript%3E")
    assert b"&lt;script&gt;" in body and b"<script>" not in body


def test_post_form():
    rc, out, err = lib.curl("-d", "name=Bob&msg=hi+there%21", url("/post"))
    assert out == b"<p>Thanks Bob, you wrote: hi there!</p>", out
    rc, out, err = lib.curl("-s", "-o", "/dev/null", "-w", "%{http_code}", "-d", "msg=x", url("/post"))
    assert out == b"400", out


def test_file_upload_curl_F():
    d = tempfile.mkdtemp()
    a, b = os.path.join(d, "a.txt"), os.path.join(d, "pic.bin")
    with open(a, "wb") as f:
        f.write(b"line one\r\nline two\r\n")
    with open(b, "wb") as f:
        f.write(bytes(range(256)) * 40)
    rc, out, err = lib.curl("-F", "title=My files", "-F", "file=@%s;type=text/plain" % a,
                            "-F", "file=@%s;type=application/octet-stream" % b, url("/upload"))
    assert rc == 0, err
    assert b"title: My files" in out, out
    assert b"<li>a.txt (text/plain, 20 bytes)</li>" in out, out
    assert b"<li>pic.bin (application/octet-stream, 10240 bytes)</li>" in out, out
    rc, out, err = lib.curl("-s", "-w", " %{http_code}", "-F", "title=x", url("/upload"))
    assert out.endswith(b" 400") and b"No file" in out, out


def test_headers_and_cookies_post_redirect_get():
    jar = tempfile.mktemp()
    rc, out, err = lib.curl("-L", "-c", jar, "-b", jar, "-A", "example-agent/1", "-d", "color=deep blue",
                            "-D", "-", url("/cookies"))
    assert b"303" in out.split(b"\r\n")[0], out
    assert b"\r\nSet-Cookie: color=deep%20blue; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax\r\n" in out, out
    assert b"Favourite color (cookie): deep blue" in out, out
    assert b"Your browser: example-agent/1" in out and b"x-example: cookies" in out.lower()
    rc, out, err = lib.curl("-b", jar, url("/cookies"))
    assert b"Favourite color (cookie): deep blue" in out


def test_sessions_counter():
    jar = tempfile.mktemp()
    for i in range(1, 4):
        rc, out, err = lib.curl("-c", jar, "-b", jar, url("/counter"))
        assert ("seen this page %d times" % i).encode() in out, (i, out)
    rc, out, err = lib.curl("-c", jar, "-b", jar, url("/counter"))   # no jar: a new visitor
    rc, out, err = lib.curl(url("/counter"))
    assert b"seen this page 1 times" in out, out
    rc, out, err = lib.curl("-L", "-c", jar, "-b", jar, url("/counter/reset"))
    assert b"seen this page 1 times" in out, out


def test_https_note():
    rc, out, err = lib.curl("-k", "https://127.0.0.1:%d/https" % atto.https)
    assert rc == 0, err
    assert b"<b>https</b>" in out, out
    st, h, body = get("/https")
    assert b"<b>http</b>" in body


def test_upload_and_session_over_http2():
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "h2.txt"), "wb") as f:
        f.write(b"over h2\r\n")
    base = "https://127.0.0.1:%d" % atto.https
    rc, out, err = lib.curl("-k", "--http2", "-w", " %{http_version}", "-F", "file=@%s/h2.txt" % d,
                            base + "/upload")
    assert out.endswith(b" 2") and b"<li>h2.txt (text/plain, 9 bytes)</li>" in out, (out, err)
    jar = tempfile.mktemp()
    for i in (1, 2):
        rc, out, err = lib.curl("-k", "--http2", "-c", jar, "-b", jar, base + "/counter")
        assert ("seen this page %d times" % i).encode() in out, out
    with open(jar) as f:
        line = [l for l in f if "atto_sid" in l][0]
    assert line.startswith("#HttpOnly_") and "\tTRUE\t" in line, line   # Secure on https


def test_middleware_logging():
    get("/get?name=logme")
    time.sleep(0.2)
    out = atto.output()
    assert "127.0.0.1 GET /get 200 " in out, out[-2000:]
    get("/nothing-here")
    time.sleep(0.2)
    assert "GET /nothing-here 404 " in atto.output()


def test_timers():
    st, h, body = get("/timers")
    import json
    j = json.loads(body)
    assert st == 200 and j["after_fired"] is True and j["cancelled"] is True, j
    assert j["ticks"] >= 1, j


def test_virtual_hosting_by_host_header():
    st, h, body = get("/", headers={"Host": "blog.localhost"})
    assert st == 200 and body == b"<h1>The blog</h1>", body
    st, h, body = get("/post/42", headers={"Host": "blog.localhost:8080"})
    assert body == b"<h1>Blog post 42</h1>", body
    st, h, body = get("/", headers={"Host": "shop.localhost"})
    assert body == b"<h1>The shop</h1>" and h.get("x-shop") == "yes", (body, h)
    st, h, body = get("/nope", headers={"Host": "shop.localhost"})
    assert st == 404 and b"shop.localhost" in body
    st, h, body = get("/blog/post/7")                 # the mount
    assert body == b"<h1>Blog post 7</h1>"
    st, h, body = get("/")
    assert b"Hello World!" in body


def test_banning_ips():
    try:
        socket.create_connection(("::1", atto.http), timeout=2).close()
    except OSError:
        print("skip banning over ::1: no IPv6 loopback")
        return
    v6 = "http://[::1]:%d/" % atto.http
    rc, out, err = lib.curl(v6)
    assert b"Hello World!" in out
    rc, out, err = lib.curl("-d", "ip=::1", url("/ban"))
    rc, out, err = lib.curl("-w", " %{http_code}", v6)
    assert out.endswith(b" 403") and b"::1 is banned" in out, out
    rc, out, err = lib.curl("-w", " %{http_code}", v6 + "hello.txt")    # static files too
    assert out.endswith(b" 403"), out
    rc, out, err = lib.curl("-w", " %{http_code}", url("/"))            # others still served
    assert out.endswith(b" 200")
    rc, out, err = lib.curl("-L", "-d", "ip=::1&action=unban", url("/ban"))
    assert b"203.0.113.7" in out and b"::1" not in out, out
    rc, out, err = lib.curl("-w", " %{http_code}", v6)
    assert out.endswith(b" 200"), out


def test_templates():
    st, h, body = get("/template?user=%3Cb%3EAnn%3C/b%3E")
    assert st == 200, body
    assert b"<title>Templates</title>" in body and b"<h1>Templates</h1>" in body, body
    assert b"Hello &lt;b&gt;Ann&lt;/b&gt;!" in body, body
    assert b"  <li>1. etlua syntax</li>\n  <li>2. escaped by default</li>\n" in body, body


def test_hpack_page_encodes_and_decodes():
    # RFC 7541 C.4.1: the first request of the Huffman example
    q = urllib.parse.urlencode({"headers": ":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com"})
    rc, out, err = lib.curl("http://127.0.0.1:%d/hpack?%s" % (atto.http, q))
    assert b"<pre id=hex>828684418cf1e3c2e5f23a6ba0ab90f4ff</pre>" in out, out[:600]
    assert b"dynamic table" in out.lower() or b"table" in out, out[:800]
    rc, out, err = lib.curl("http://127.0.0.1:%d/hpack/decode?hex=828684418cf1e3c2e5f23a6ba0ab90f4ff" % atto.http)
    assert b":authority: www.example.com" in out and b":method: GET" in out, out
    rc, out, err = lib.curl("-w", "%{http_code}", "http://127.0.0.1:%d/hpack/decode?hex=ffffffff" % atto.http)
    assert out.endswith(b"400") and b"Not a valid header block" in out, out


def test_json_api():
    st, h, body = get("/api/items", method="POST", body=b'{"name": "pen"}',
                      headers={"Content-Type": "application/json"})
    assert st == 201 and b'"name":"pen"' in body, (st, body)
    st, h, body = get("/api/items", method="POST", body=b'{"name": ', headers={"Content-Type": "application/json"})
    assert st == 400 and b"invalid JSON" in body, (st, body)
    st, h, body = get("/api/items", method="POST", body=b'[1]')
    assert st == 422


if __name__ == "__main__":
    lib.run_with_server(globals(), setup, lambda: shutil.rmtree(SITE, ignore_errors=True))
