"""test_h2.py — HTTP/2 end to end: curl (prior knowledge, h2c upgrade, ALPN),
nghttp, h2load, and Python's h2 library driving RFC 9113 error cases, each
checking the exact RST_STREAM / GOAWAY code the server sends. Large bodies
(a 5 MiB static file, a 5 MiB Lua string, 5 MiB streamed with res:write)
are fetched over h2c and TLS by curl, nghttp and an h2 client whose small,
oddly refilled windows cut the DATA frames at odd places, and compared by
SHA-256."""
import hashlib, os, socket, ssl, struct, subprocess, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib
import h2.config, h2.connection, h2.events, h2.settings

PROTOCOL_ERROR, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, ENHANCE_YOUR_CALM = 1, 3, 6, 11

SRV = None


def server():
    global SRV
    if SRV is None:
        SRV = lib.Atto("sites/hello", enable=("http", "https")).start()
    return SRV


def frame(t, flags, sid, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([t, flags]) + struct.pack(">I", sid) + payload


class Client:
    """A raw h2 client: h2's encoder for header blocks, our own frames for
    what h2 refuses to send."""

    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", server().http), timeout=5)
        self.c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.c.initiate_connection()
        self.s.sendall(self.c.data_to_send())

    def block(self, headers):
        return self.c.encoder.encode(headers)

    def send(self, data):
        self.s.sendall(data)

    def frames(self, until_type, limit=2000):
        """Parse raw frames until one of type until_type, EOF or a timeout."""
        data, out = b"", []
        while len(out) < limit:
            while len(data) >= 9 and len(data) >= 9 + int.from_bytes(data[:3], "big"):
                n = int.from_bytes(data[:3], "big")
                out.append((data[3], data[4], int.from_bytes(data[5:9], "big") & 0x7fffffff, data[9:9 + n]))
                data = data[9 + n:]
                if out[-1][0] == until_type:
                    return out
            try:
                chunk = self.s.recv(65536)
            except (socket.timeout, OSError):
                break
            if not chunk:
                break
            data += chunk
        return out


GET = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "x")]


def expect_rst(frames, sid, code):
    for t, fl, i, p in frames:
        if t == 3 and i == sid:
            got = int.from_bytes(p[:4], "big")
            assert got == code, "RST code %s, expected %s" % (got, code)
            return
    raise AssertionError("no RST_STREAM on %d: %r" % (sid, [(t, i) for t, _, i, _ in frames]))


def expect_goaway(frames, code):
    for t, fl, i, p in frames:
        if t == 7:
            got = int.from_bytes(p[4:8], "big")
            assert got == code, "GOAWAY code %s, expected %s (%r)" % (got, code, p[8:])
            return
    raise AssertionError("no GOAWAY: %r" % ([(t, i) for t, _, i, _ in frames],))


def test_curl_prior_knowledge():
    rc, out, err = lib.curl("--http2-prior-knowledge", "-i", "http://127.0.0.1:%d/" % server().http)
    assert rc == 0 and out.startswith(b"HTTP/2 200"), (rc, out[:100], err)
    assert b"server: atto" in out


def test_curl_h2c_upgrade():
    rc, out, err = lib.curl("--http2", "-i", "http://127.0.0.1:%d/" % server().http)
    assert rc == 0 and b"101 Switching Protocols" in out and b"HTTP/2 200" in out, (rc, out[:200], err)


def test_curl_alpn_tls():
    rc, out, err = lib.curl("-k", "--http2", "-i", "https://127.0.0.1:%d/" % server().https)
    assert rc == 0 and out.startswith(b"HTTP/2 200"), (rc, out[:100], err)


def test_upload_flow_control():
    body = os.urandom(3 * 1024 * 1024)
    p = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{size_upload}",
                        "--data-binary", "@-", "http://127.0.0.1:%d/nowhere" % server().http],
                       input=body, capture_output=True, timeout=30)
    assert p.returncode == 0 and p.stdout == b"3145728", (p.returncode, p.stdout, p.stderr)


def test_nghttp():
    p = subprocess.run(["nghttp", "-nv", "http://127.0.0.1:%d/" % server().http], capture_output=True, timeout=20)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0 and ":status: 200" in out and "SETTINGS frame" in out, out[-800:]


def test_h2load_concurrency():
    p = subprocess.run(["h2load", "-n", "5000", "-c", "8", "-m", "50", "http://127.0.0.1:%d/" % server().http],
                       capture_output=True, timeout=60)
    out = p.stdout.decode(errors="replace")
    assert "5000 succeeded" in out and "0 failed" in out, out[-800:]


def test_uppercase_header_is_stream_error():
    cl = Client()
    cl.send(frame(1, 5, 1, cl.block(GET + [("X-Upper", "1")])))
    expect_rst(cl.frames(3), 1, PROTOCOL_ERROR)


def test_data_on_idle_stream():
    cl = Client()
    cl.send(frame(0, 0, 7, b"x"))
    expect_goaway(cl.frames(7), PROTOCOL_ERROR)


def test_window_overflow():
    cl = Client()
    cl.send(frame(8, 0, 0, struct.pack(">I", 0x7fffffff)))
    expect_goaway(cl.frames(7), FLOW_CONTROL_ERROR)


def test_ping_bad_length():
    cl = Client()
    cl.send(frame(6, 0, 0, b"1234567"))
    expect_goaway(cl.frames(7), FRAME_SIZE_ERROR)


def test_rapid_reset_calmed():
    cl = Client()
    data = b""
    for i in range(600):
        sid = 2 * i + 1
        data += frame(1, 5, sid, cl.block(GET)) + frame(3, 0, sid, struct.pack(">I", 8))
    try:
        cl.send(data)
    except OSError:
        pass   # the server may close before reading it all
    evs = cl.frames(7, limit=100000)
    expect_goaway(evs, ENHANCE_YOUR_CALM)
    # the server still answers others
    rc, out, err = lib.curl("--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}",
                            "http://127.0.0.1:%d/" % server().http)
    assert out == b"200", (rc, out, err)


# ---- large bodies: the DATA path ----

BIG_LUA = r"""
local parts = {}
for i = 1, 5120 do
  parts[i] = string.format("%07d:", i) .. string.rep(string.char(65 + i % 26), 1016)
end
local BIG = table.concat(parts)
site:get("/lua-big", function(req, res) res:text(BIG) end)
site:get("/lua-stream", function(req, res)
  for i = 1, 5120, 7 do
    if not res:write(table.concat(parts, "", i, math.min(i + 6, 5120))) then return end
  end
  res:finish()
end)
"""
BIG_FILE = os.urandom(5 * 1024 * 1024 + 77)
LUA_BODY = b"".join(b"%07d:" % i + bytes([65 + i % 26]) * 1016 for i in range(1, 5121))
BIG_WANT = {"/big.bin": hashlib.sha256(BIG_FILE).hexdigest(),
            "/lua-big": hashlib.sha256(LUA_BODY).hexdigest(),
            "/lua-stream": hashlib.sha256(LUA_BODY).hexdigest()}
BIG_SRV = None


def big_server():
    global BIG_SRV
    if BIG_SRV is None:
        site = lib.tmp_site({"index.lua": BIG_LUA, "public/big.bin": BIG_FILE})
        BIG_SRV = lib.Atto(site, enable=("http", "https")).start()
    return BIG_SRV


def sha_of(p):
    assert p.returncode == 0, (p.returncode, p.stderr[-400:])
    return hashlib.sha256(p.stdout).hexdigest()


def test_big_bodies_curl_h2c_and_tls():
    for path, want in BIG_WANT.items():
        for args in (["--http2-prior-knowledge", "http://127.0.0.1:%d%s" % (big_server().http, path)],
                     ["-k", "--http2", "https://127.0.0.1:%d%s" % (big_server().https, path)]):
            p = subprocess.run(["curl", "-sS", "--fail"] + args, capture_output=True, timeout=60)
            assert sha_of(p) == want, (args, len(p.stdout))


def test_big_bodies_nghttp():
    for path, want in BIG_WANT.items():
        for url in ("http://127.0.0.1:%d%s" % (big_server().http, path),
                    "https://127.0.0.1:%d%s" % (big_server().https, path)):
            p = subprocess.run(["nghttp", url], capture_output=True, timeout=60)
            assert sha_of(p) == want, (url, len(p.stdout))


def h2_fetch(paths, tls, window, odd=(333, 1021, 4093, 97, 16411)):
    """GET each path on one connection with SETTINGS_INITIAL_WINDOW_SIZE =
    window and MAX_FRAME_SIZE 16384, giving credit back in odd amounts.
    h2 itself fails on any frame beyond our windows or frame size."""
    s = socket.create_connection(("127.0.0.1", big_server().https if tls else big_server().http), timeout=20)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        s = ctx.wrap_socket(s, server_hostname="localhost")
        assert s.selected_alpn_protocol() == "h2"
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    c.local_settings = h2.settings.Settings(client=True, initial_values={
        h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window,
        h2.settings.SettingCodes.MAX_FRAME_SIZE: 16384})
    c.initiate_connection()
    if window > 65535:
        c.increment_flow_control_window((1 << 30) - 65535)      # the connection's too
    bodies, done, owed, k, sizes = {}, set(), {}, 0, set()
    for path in paths:
        sid = c.get_next_available_stream_id()
        c.send_headers(sid, [(":method", "GET"), (":scheme", "https" if tls else "http"),
                             (":path", path), (":authority", "x")], end_stream=True)
        bodies[sid] = (path, [])
    s.sendall(c.data_to_send())
    while len(done) < len(paths):
        data = s.recv(65536)
        assert data, "connection closed early"
        for ev in c.receive_data(data):
            if isinstance(ev, h2.events.DataReceived):
                bodies[ev.stream_id][1].append(ev.data)
                sizes.add(len(ev.data))
                owed[ev.stream_id] = owed.get(ev.stream_id, 0) + ev.flow_controlled_length
            elif isinstance(ev, h2.events.StreamEnded):
                done.add(ev.stream_id)
            elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                raise AssertionError("server ended it: %r" % ev)
        for sid in list(owed):
            while owed[sid] > 0 and sid not in done:
                inc = min(owed[sid], odd[k % len(odd)])
                k += 1
                owed[sid] -= inc
                c.increment_flow_control_window(inc, stream_id=sid)
                c.increment_flow_control_window(inc)
        s.sendall(c.data_to_send())
    s.close()
    for sid, (path, parts) in bodies.items():
        got = b"".join(parts)
        assert hashlib.sha256(got).hexdigest() == BIG_WANT[path], (path, len(got))
    return sizes


def test_big_bodies_small_windows_h2c():
    sizes = h2_fetch(list(BIG_WANT), tls=False, window=1024)
    assert max(sizes) <= 1024 and len(sizes) > 3, sorted(sizes)[:20]


def test_big_bodies_small_windows_tls():
    sizes = h2_fetch(list(BIG_WANT), tls=True, window=1024)
    assert max(sizes) <= 1024 and len(sizes) > 3, sorted(sizes)[:20]


def test_big_bodies_large_windows_concurrent():
    for tls in (False, True):
        sizes = h2_fetch(list(BIG_WANT) * 2, tls=tls, window=(1 << 31) - 1)
        assert max(sizes) == 16384, sorted(sizes)[-5:]


def test_z_graceful_stop():
    global SRV, BIG_SRV
    srv, SRV = server(), None
    assert srv.stop() == 0
    if BIG_SRV:
        big, BIG_SRV = BIG_SRV, None
        assert big.stop() == 0


if __name__ == "__main__":
    failed = lib.main(globals())
    if SRV:
        SRV.stop(check=False)
    if BIG_SRV:
        BIG_SRV.stop(check=False)
    sys.exit(1 if failed else 0)
