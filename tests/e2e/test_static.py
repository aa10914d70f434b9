"""Static files end to end: public/ and res:file() with curl, http.client and
raw sockets — validators and 304/412, single and multipart ranges, 416,
If-Range, HEAD, a 5 MB file intact at full speed and throttled (while the
one worker keeps answering others), a client leaving mid-download (no fd
leak); the sendfile path: the big file twice on one keep-alive connection
(and over TLS), a 4 KB-buffer reader that stalls, resets while the file
waits, a file truncated while being sent (the connection closes); directory
index and redirect, and every path-traversal shape we know
(never the content of index.lua, /etc/passwd or a dotfile)."""
import hashlib, os, socket, subprocess, threading, time
import lib

BIG = os.urandom(5 * 1024 * 1024 + 123)
MID = os.urandom(200 * 1024 + 7)              # above the small-file cache, under the pipelining limit
SITE = lib.tmp_site({
    "index.lua": r'''
site:get("/hello", function(req, res) res:text("hello") end)
site:get("/dl/*", function(req, res) res:file("public/" .. req.params["*"]) end)
site:get("/secret", function(req, res) res:file(".atto/secret.txt") end)
site:get("/up", function(req, res) res:file("../outside.txt") end)
''',
    "public/a.txt": "hello world!\n",
    "public/page.html": "<h1>page</h1>\n",
    "public/data.json": '{"a":1}',
    "public/big.bin": BIG,
    "public/mid.bin": MID,
    "public/docs/index.html": "<h1>docs</h1>\n",
    "public/nodex/file.txt": "x\n",
    "public/.env": "SECRET=1\n",
    "public/.git/config": "[core]\n",
    ".atto/secret.txt": "top secret\n",
})
os.symlink("/etc/passwd", os.path.join(SITE, "public", "passwd"))
os.symlink("../.atto/secret.txt", os.path.join(SITE, "public", "dotlink.txt"))   # inside, but a dot folder
os.symlink("../../outside.txt", os.path.join(SITE, "public", "out.txt"))
os.symlink("/etc", os.path.join(SITE, "public", "etcdir"))
with open(os.path.join(os.path.dirname(SITE), "outside.txt"), "w") as f:
    f.write("outside\n")

atto = None


def setup():
    global atto
    atto = lib.Atto(SITE, enable=("http", "https"), args=["--workers", "1"]).start()


def url(path):
    return "http://127.0.0.1:%d%s" % (atto.http, path)


def curl_i(*args):
    """curl -i: (status, headers dict, body bytes) of the last response."""
    rc, out, err = lib.curl("-i", *args)
    assert rc == 0, err
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs, body


def fd_count():
    return len(os.listdir("/proc/%d/fd" % atto.proc.pid))


def test_plain_file_with_validators():
    st, h, body = curl_i(url("/a.txt"))
    assert st == 200 and body == b"hello world!\n", (st, body)
    assert h["content-type"] == "text/plain; charset=utf-8", h
    assert h["accept-ranges"] == "bytes" and h["content-length"] == "13", h
    assert h["etag"].startswith('"') and h["last-modified"].endswith(" GMT"), h
    assert curl_i(url("/page.html"))[1]["content-type"] == "text/html; charset=utf-8"
    assert curl_i(url("/data.json"))[1]["content-type"] == "application/json"


def test_if_none_match_and_if_modified_since():
    st, h, _ = curl_i(url("/a.txt"))
    etag, lm = h["etag"], h["last-modified"]
    st, h2, body = curl_i("-H", "If-None-Match: " + etag, url("/a.txt"))
    assert st == 304 and body == b"" and h2["etag"] == etag, (st, h2)
    st, _, _ = curl_i("-H", 'If-None-Match: "nope", W/' + etag, url("/a.txt"))
    assert st == 304, st
    st, _, body = curl_i("-H", 'If-None-Match: "nope"', url("/a.txt"))
    assert st == 200 and body == b"hello world!\n"
    st, _, _ = curl_i("-z", lm, url("/a.txt"))                 # If-Modified-Since
    assert st == 304, st
    st, _, _ = curl_i("-z", "Sun, 06 Nov 1994 08:49:37 GMT", url("/a.txt"))
    assert st == 200, st
    # If-None-Match wins over If-Modified-Since
    st, _, _ = curl_i("-H", 'If-None-Match: "nope"', "-z", lm, url("/a.txt"))
    assert st == 200, st
    st, _, _ = curl_i("-H", "If-Modified-Since: not a date", url("/a.txt"))
    assert st == 200, st


def test_if_match_and_if_unmodified_since_412():
    st, _, _ = curl_i("-H", 'If-Match: "other"', url("/a.txt"))
    assert st == 412, st
    st, h, _ = curl_i(url("/a.txt"))
    st, _, _ = curl_i("-H", "If-Match: " + h["etag"], url("/a.txt"))
    assert st == 200, st
    st, _, _ = curl_i("-H", "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT", url("/a.txt"))
    assert st == 412, st


def test_single_range():
    st, h, body = curl_i("-r", "0-9", url("/a.txt"))
    assert st == 206 and body == b"hello worl", (st, body)
    assert h["content-range"] == "bytes 0-9/13", h
    st, h, body = curl_i("-r", "-3", url("/a.txt"))
    assert st == 206 and body == b"d!\n", body
    assert h["content-range"] == "bytes 10-12/13", h
    st, h, body = curl_i("-r", "6-", url("/a.txt"))
    assert st == 206 and body == b"world!\n", body


def test_multipart_ranges():
    st, h, body = curl_i("-r", "0-1,5-6", url("/a.txt"))
    assert st == 206, st
    ct = h["content-type"]
    assert ct.startswith("multipart/byteranges; boundary="), ct
    b = ct.split("boundary=")[1].encode()
    assert int(h["content-length"]) == len(body), (h, len(body))
    parts = body.split(b"--" + b)
    assert parts[-1].startswith(b"--"), parts[-1]
    assert b"Content-Range: bytes 0-1/13\r\n\r\nhe\r\n" in parts[1], parts[1]
    assert b"Content-Range: bytes 5-6/13\r\n\r\n w\r\n" in parts[2], parts[2]
    # overlapping ranges are merged into one
    st, h, body = curl_i("-r", "0-5,3-8", url("/a.txt"))
    assert st == 206 and h["content-range"] == "bytes 0-8/13" and body == b"hello wor", (st, h)


def test_unsatisfiable_416():
    st, h, body = curl_i("-r", "99999-", url("/a.txt"))
    assert st == 416 and h["content-range"] == "bytes */13", (st, h)


def test_if_range():
    st, h, _ = curl_i(url("/a.txt"))
    st, _, body = curl_i("-r", "0-1", "-H", "If-Range: " + h["etag"], url("/a.txt"))
    assert st == 206 and body == b"he", st
    st, _, body = curl_i("-r", "0-1", "-H", 'If-Range: "stale"', url("/a.txt"))
    assert st == 200 and body == b"hello world!\n", st
    st, _, body = curl_i("-r", "0-1", "-H", "If-Range: " + h["last-modified"], url("/a.txt"))
    assert st == 206, st


def test_absurd_range_headers():
    many = "bytes=" + ",".join("%d-%d" % (i, i) for i in range(0, 1000, 2))
    overlapping = "bytes=" + ",".join("0-%d" % i for i in range(300))
    cases = [many, overlapping, "bytes=0-99999999999999999999999999999", "bytes=-99999999999999999999999",
             "bytes=99999999999999999999999-", "bytes=garbage", "bytes=5-1", "pages=1-2", "bytes=" + "-" * 5000,
             "bytes=" + "0-1," * 3000]
    for v in cases:
        st, h, body = lib.http_get(atto.http, "/big.bin", headers={"Range": v})
        assert st in (200, 206, 416), (v[:60], st)
        if st == 200:
            assert len(body) == len(BIG)
        if st == 206:
            assert len(body) <= len(BIG) + 4096, (v[:60], len(body))
    assert lib.http_get(atto.http, "/hello")[2] == b"hello"


def test_head():
    st, h, body = curl_i("-I", url("/big.bin"))
    assert st == 200 and body == b"" and h["content-length"] == str(len(BIG)), (st, h)
    assert h["accept-ranges"] == "bytes"


def test_big_file_intact():
    rc, out, err = lib.curl(url("/big.bin"))
    assert rc == 0, err
    assert hashlib.sha256(out).digest() == hashlib.sha256(BIG).digest(), len(out)
    rc, out, err = lib.curl(url("/dl/big.bin"))                # the same through res:file
    assert rc == 0 and out == BIG, len(out)
    st, h, body = curl_i("-r", "1000000-3999999", url("/dl/big.bin"))
    assert st == 206 and body == BIG[1000000:4000000], (st, len(body))
    st, h, body = curl_i("-r", "0-9,4000000-4999999,-5", url("/big.bin"))
    assert st == 206 and int(h["content-length"]) == len(body)
    assert BIG[4000000:5000000] in body and BIG[-5:] in body


def slow_download(path, rate, result):
    """A client reading at `rate` bytes/s through a small receive buffer."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.settimeout(20)
    s.connect(("127.0.0.1", atto.http))
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
    data = b""
    start = time.time()
    while True:
        chunk = s.recv(32768)
        if not chunk:
            break
        data += chunk
        ahead = len(data) / rate - (time.time() - start)
        if ahead > 0:
            time.sleep(ahead)
    s.close()
    result["body"] = data.partition(b"\r\n\r\n")[2]
    result["took"] = time.time() - start


def test_slow_client_does_not_block_others():
    """A client reading 5 MB at 2 MB/s (~2.5 s) from the only worker; meanwhile
    other requests keep being answered at once, and curl --limit-rate 2M
    gets the file intact too."""
    result = {}
    t = threading.Thread(target=slow_download, args=("/big.bin", 2 * 1024 * 1024, result))
    t.start()
    rc, out, err = lib.curl("--limit-rate", "2M", url("/big.bin"))
    assert rc == 0 and hashlib.sha256(out).digest() == hashlib.sha256(BIG).digest(), (rc, err)
    worst, n = 0, 0
    while t.is_alive() and n < 60:
        t0 = time.time()
        st, _, body = lib.http_get(atto.http, "/a.txt")
        worst = max(worst, time.time() - t0)
        assert st == 200 and body == b"hello world!\n"
        n += 1
        time.sleep(0.03)
    t.join(30)
    assert result.get("body") == BIG, len(result.get("body", b""))
    assert result["took"] > 1.5, "the client was not slow (%.2fs)" % result["took"]
    assert n >= 10 and worst < 0.5, (n, worst)


def test_client_leaves_mid_download():
    time.sleep(0.2)
    before = fd_count()
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", atto.http))
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        got = 0
        while got < 300000:
            got += len(s.recv(65536))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()                                             # RST while the server still sends
    end = time.time() + 5
    while time.time() < end and fd_count() > before:
        time.sleep(0.1)
    assert fd_count() <= before, (before, fd_count())
    assert lib.http_get(atto.http, "/a.txt")[2] == b"hello world!\n"
    assert atto.alive()


# ---- the sendfile path (conn_sendfile): files above the small-file cache ----

def sha(b):
    return hashlib.sha256(b).hexdigest()


def test_big_file_twice_on_one_keepalive_connection():
    """curl fetches the 5 MB file twice in one connection (cleartext: by
    sendfile; TLS: read and encrypted a record at a time), then a small file:
    every body intact, one connection."""
    for base in (url(""), "https://127.0.0.1:%d" % atto.https):
        rc, out, err = lib.curl("-k", "-w", "%{num_connects}\\n", "-o", "/tmp/atto-st-1", base + "/big.bin",
                                "-o", "/tmp/atto-st-2", base + "/big.bin", "-o", "/tmp/atto-st-3", base + "/a.txt")
        assert rc == 0, err
        assert out.split() == [b"1", b"0", b"0"], ("connection not reused", base, out)
        for name in ("/tmp/atto-st-1", "/tmp/atto-st-2"):
            with open(name, "rb") as f:
                assert sha(f.read()) == sha(BIG), (base, name)
            os.unlink(name)
        with open("/tmp/atto-st-3", "rb") as f:
            assert f.read() == b"hello world!\n", base
        os.unlink("/tmp/atto-st-3")


def read_response(s, buf):
    """One HTTP/1.1 response with Content-Length from socket s; `buf` holds
    bytes already read. Returns (status, body, rest of buf)."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        assert chunk, "closed before a response head"
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
    while len(buf) < n:
        chunk = s.recv(65536)
        assert chunk, "closed after %d of %d body bytes" % (len(buf), n)
        buf += chunk
    return int(head.split()[1]), buf[:n], buf[n:]


def test_slow_reader_with_small_buffer_gets_every_byte():
    """A 4 KB receive buffer, nothing read for 1.5 s after asking for the big
    file twice and a small one pipelined, then slow 4 KB reads with pauses:
    the socket is full for a long time (the sendfile path waits on its 16 KB
    wake-up write), then everything arrives, in order and intact."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(20)
    s.connect(("127.0.0.1", atto.http))
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n" b"GET /dl/big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(1.5)
    assert lib.http_get(atto.http, "/a.txt")[2] == b"hello world!\n"     # the worker is free meanwhile
    buf = b""
    for _ in range(20):
        buf += s.recv(4096)
        time.sleep(0.05)
    for want in (BIG, BIG, b"hello world!\n"):
        st, body, buf = read_response(s, buf)
        assert st == 200 and len(body) == len(want) and sha(body) == sha(want), (st, len(body))
    s.close()


def test_pipelined_files_queue_in_order():
    """Files under the 1 MB pipelining limit queue one behind another on the
    connection with the answers between them: 200 KB, a small file, a range
    of 300 KB, 200 KB again, all sent in one write to a reader that stalls
    first; the same over TLS (plaintext held behind the files, encrypted in
    order)."""
    reqs = [("/mid.bin", MID), ("/a.txt", b"hello world!\n"), ("/mid.bin", MID), ("/dl/mid.bin", MID),
            ("/hello", b"hello"), ("/mid.bin", MID)]
    wire = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p, _ in reqs)
    for s in (small_buffer_socket(atto.http), tls_socket()):
        s.settimeout(20)
        s.sendall(wire)
        time.sleep(0.5)
        buf = b""
        for path, want in reqs:
            st, body, buf = read_response(s, buf)
            assert st == 200 and sha(body) == sha(want), (path, st, len(body))
        s.close()


def small_buffer_socket(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    return s


def tls_socket():
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(small_buffer_socket(atto.https), server_hostname="localhost")


def test_reset_while_the_file_waits_leaves_the_server_serving():
    """Clients that ask for the big file (three times, pipelined) and reset
    without reading a byte, or after a little: no fd left open, the server
    answers the next request; the same over TLS."""
    time.sleep(0.2)
    before = fd_count()
    for read_first in (0, 200000):
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", atto.http))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
            got = 0
            while got < read_first:
                got += len(s.recv(65536))
            time.sleep(0.1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
    for _ in range(3):
        subprocess.run(["curl", "-sk", "--limit-rate", "500K", "--max-time", "0.3", "-o", "/dev/null",
                        "https://127.0.0.1:%d/big.bin" % atto.https], timeout=10)
    end = time.time() + 5
    while time.time() < end and fd_count() > before:
        time.sleep(0.1)
    assert fd_count() <= before, (before, fd_count())
    assert lib.http_get(atto.http, "/a.txt")[2] == b"hello world!\n"
    assert atto.alive()


def truncated_download(connect, name):
    """Ask for a 16 MB file, read a little, truncate it on disk to 1 MB, then
    read on: the connection must close short of Content-Length, not hang."""
    path = os.path.join(SITE, "public", name)
    with open(path, "wb") as f:
        f.write(os.urandom(16 << 20))
    s = connect()
    s.settimeout(10)
    s.sendall(("GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % name).encode())
    got = b""
    while len(got) < 100000:
        got += s.recv(65536)
    os.truncate(path, 1 << 20)
    t0 = time.time()
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise AssertionError("the connection hung after the file shrank (%d bytes)" % len(got))
    s.close()
    os.unlink(path)
    assert b"Content-Length: %d" % (16 << 20) in got, got[:300]
    assert len(got) < (16 << 20), len(got)
    assert time.time() - t0 < 8


def test_file_truncated_while_sent_closes_the_connection():
    truncated_download(lambda: small_buffer_socket(atto.http), "shrink.bin")
    truncated_download(tls_socket, "shrink-tls.bin")
    assert lib.http_get(atto.http, "/a.txt")[2] == b"hello world!\n"
    assert atto.alive()


def test_big_file_swapped_for_a_symlink_outside_is_refused():
    """A file too big for the cache keeps its validators and an open
    descriptor there, checked against the path once a second like the small
    files. Replaced by a symlink to a big file outside the site (or by
    another file): within that second the old bytes may still come (from the
    descriptor), never the outside ones; after it, 404 for the symlink and
    the new bytes for the new file."""
    inside = os.path.join(SITE, "public", "swap.bin")
    outside = os.path.join(os.path.dirname(SITE), "outside-big.bin")
    first, second = os.urandom(300000), os.urandom(300001)
    with open(outside, "wb") as f:
        f.write(b"OUTSIDE" * 50000)
    with open(inside, "wb") as f:
        f.write(first)
    assert lib.http_get(atto.http, "/swap.bin")[2] == first
    assert lib.http_get(atto.http, "/swap.bin")[2] == first        # from the kept descriptor
    os.unlink(inside)
    os.symlink(outside, inside)
    st, _, body = lib.http_get(atto.http, "/swap.bin")
    assert (st, body) == (200, first) or (st == 404 and b"OUTSIDE" not in body), (st, body[:100])
    time.sleep(1.1)
    st, _, body = lib.http_get(atto.http, "/swap.bin")
    assert st == 404 and b"OUTSIDE" not in body, (st, body[:100])
    os.unlink(inside)
    with open(inside, "wb") as f:
        f.write(second)
    time.sleep(1.1)
    st, _, body = lib.http_get(atto.http, "/swap.bin")
    assert st == 200 and body == second, (st, len(body))
    os.unlink(inside)
    os.unlink(outside)


def test_keepalive_timeout_spares_a_moving_download_and_ends_a_stalled_one():
    """keepalive_timeout = 1: the response is finished once the file is
    queued, so the idle timer runs while it is still going out. A client
    reading the 5 MB file over ~3 s gets all of it; one that stops reading
    is disconnected after about a second (its file closed)."""
    site = lib.tmp_site({"index.lua": "site:listen{ keepalive_timeout = 1 }\n", "public/big.bin": BIG})
    with lib.Atto(site, args=["--workers", "1"]) as a:
        time.sleep(0.2)
        fds = len(os.listdir("/proc/%d/fd" % a.proc.pid))
        s = small_buffer_socket(a.http)
        s.settimeout(10)
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        buf, t0 = b"", time.time()
        while len(buf) < len(BIG):
            chunk = s.recv(65536)
            assert chunk, "closed after %d bytes, %.1f s" % (len(buf), time.time() - t0)
            buf += chunk
            time.sleep(max(0, len(buf) / (1.7 * 1024 * 1024) - (time.time() - t0)))
        assert time.time() - t0 > 2, "the download was not slow"
        st, body, _ = read_response(s, buf)
        assert st == 200 and sha(body) == sha(BIG)
        s.close()
        s = small_buffer_socket(a.http)
        s.settimeout(10)
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(4096)
        t0 = time.time()
        time.sleep(3)                                            # stalled: nothing read
        got = 0
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += len(chunk)
        except ConnectionResetError:
            pass
        s.close()
        assert got < len(BIG), got
        end = time.time() + 5
        while time.time() < end and len(os.listdir("/proc/%d/fd" % a.proc.pid)) > fds:
            time.sleep(0.1)
        assert len(os.listdir("/proc/%d/fd" % a.proc.pid)) <= fds


def test_directory_index_and_redirect():
    st, h, body = curl_i(url("/docs/"))
    assert st == 200 and body == b"<h1>docs</h1>\n", (st, body)
    st, h, body = curl_i(url("/docs?x=1"))
    assert st == 301 and h["location"] == "/docs/?x=1", (st, h)
    rc, out, err = lib.curl("-L", url("/docs"))
    assert out == b"<h1>docs</h1>\n", out
    st, _, _ = curl_i(url("/nodex"))
    assert st == 404, st
    st, _, _ = curl_i(url("/nodex/"))
    assert st == 404, st


def test_res_file_from_a_route():
    st, h, body = curl_i(url("/dl/page.html"))
    assert st == 200 and body == b"<h1>page</h1>\n" and h["content-type"].startswith("text/html"), (st, h)
    st, h, body = curl_i("-r", "4-7", url("/dl/page.html"))
    assert st == 206 and body == b"page", (st, body)
    st, h, body = curl_i(url("/dl/missing.txt"))
    assert st == 404, st
    st, h, body = curl_i(url("/secret"))                       # res:file of a dot folder
    assert st == 404 and b"top secret" not in body, (st, body)
    st, h, body = curl_i(url("/up"))                           # res:file("../x") is refused
    assert st == 500 and b"outside" not in body, (st, body)


def test_traversal_never_leaves_the_site():
    secrets = [b"site:get", b"root:", b"SECRET=1", b"[core]", b"top secret", b"outside\n"]
    targets = ["/../index.lua", "/%2e%2e/index.lua", "/..%2findex.lua", "/%2e%2e%2findex.lua",
               "/docs/../../index.lua", "/%00", "/a.txt%00.html", "/passwd", "/dotlink.txt", "/out.txt", "/dl/out.txt",
               "/etcdir/passwd", "/.env", "/.git/config", "/%2eenv", "/%2egit/config",
               "/dl/../index.lua", "/dl/..%2f..%2findex.lua", "/dl/%2e%2e/%2e%2e/outside.txt",
               "/dl/passwd", "/dl/.env", "//etc/passwd", "/..\\index.lua", "/./index.lua",
               "/docs/./../.env"]
    for t in targets:
        out = lib.raw(atto.http, ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % t).encode())
        st = lib.status_of(out)
        assert st in (400, 404, 500), (t, st, out[:200])
        for s in secrets:
            assert s not in out, (t, s)
    rc, out, err = lib.curl("--path-as-is", url("/../index.lua"))
    assert b"site:get" not in out, out


def test_http2_prior_knowledge():
    rc, out, err = lib.curl("--http2-prior-knowledge", url("/big.bin"))
    assert rc == 0 and out == BIG, (rc, err, len(out))
    st, h, body = curl_i("--http2-prior-knowledge", "-r", "0-1,5-6", url("/a.txt"))
    assert st == 206 and h["content-type"].startswith("multipart/byteranges"), (st, h)
    assert int(h["content-length"]) == len(body)
    rc, out, err = lib.curl("--http2-prior-knowledge", "--limit-rate", "1M", url("/dl/big.bin"))
    assert rc == 0 and out == BIG, (rc, err, len(out))
    before = fd_count()
    for _ in range(3):                                         # leave mid-stream
        subprocess.run(["curl", "-s", "--http2-prior-knowledge", "--limit-rate", "500K", "--max-time", "0.4",
                        "-o", "/dev/null", url("/big.bin")], timeout=10)
    end = time.time() + 5
    while time.time() < end and fd_count() > before:
        time.sleep(0.1)
    assert fd_count() <= before, (before, fd_count())


def test_server_survived():
    assert atto.alive()
    assert lib.http_get(atto.http, "/hello")[2] == b"hello"


if __name__ == "__main__":
    lib.run_with_server(globals(), setup)
