"""test_h2.py — HTTP/2 end to end: curl (prior knowledge, h2c upgrade, ALPN),
nghttp, h2load, and Python's h2 library driving RFC 9113 error cases, each
checking the exact RST_STREAM / GOAWAY code the server sends."""
import os, socket, struct, subprocess, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib
import h2.config, h2.connection

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


def test_z_graceful_stop():
    global SRV
    srv, SRV = server(), None
    assert srv.stop() == 0


if __name__ == "__main__":
    failed = lib.main(globals())
    if SRV:
        SRV.stop(check=False)
    sys.exit(1 if failed else 0)
