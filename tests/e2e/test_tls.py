"""TLS end to end: HTTPS with HTTP/1.1 through curl, Python's ssl module and
openssl s_client — TLS 1.2 and 1.3, verification against the development
certificate, keep-alive, large bodies, ALPN, SNI with per-host certificates,
protocol versions, session resumption — and the bad inputs: garbage bytes,
plain HTTP on the TLS port, stalled handshakes, missing and mismatched
certificate files, SIGHUP reloads (good and broken), https_redirect.

HTTP/2 over TLS (ALPN h2) is tested with the HTTP/2 engine, not here."""
import hashlib, os, shutil, signal, socket, ssl, subprocess, tempfile, threading, time, warnings
import http.client
import lib

CERTS = tempfile.mkdtemp(prefix="atto-certs-")


def make_cert(name, cn, kind="ec"):
    """A self-signed certificate for cn: (cert path, key path)."""
    cert, key = os.path.join(CERTS, name + ".pem"), os.path.join(CERTS, name + ".key")
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] if kind == "ec" \
        else ["-newkey", "rsa:2048"]
    subprocess.run(["openssl", "req", "-x509"] + newkey +
                   ["-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=DNS:" + cn],
                   check=True, capture_output=True, timeout=30)
    return cert, key


A_CERT, A_KEY = make_cert("a", "a.test")
B_CERT, B_KEY = make_cert("b", "b.test", kind="rsa")

BIG = bytes(i * 7 % 251 for i in range(1 << 20))   # 1 MiB, not compressible to nothing

SITE = lib.tmp_site({
    "index.lua": r'''
site:listen{ tls = { {host = "a.test", cert = "%s", key = "%s"},
                     {host = "b.test", cert = "%s", key = "%s"} } }
site:get("/", function(req, res) res:text("root") end)
site:get("/info", function(req, res)
  res:json{ scheme = req.scheme, proto = req.protocol, host = req.host, port = req.remote_port }
end)
site:post("/echo", function(req, res) res:send(req.body, "application/octet-stream") end)
site:post("/sha", function(req, res) res:text(tostring(#req.body)) end)
''' % (A_CERT, A_KEY, B_CERT, B_KEY),
    "public/big.bin": BIG,
    "public/small.txt": "small\n",
})

REDIRECT_SITE = lib.tmp_site({
    "index.lua": 'site:listen{ https_redirect = true }\n'
                 'site:get("/where", function(req, res) res:text("scheme=" .. req.scheme) end)\n',
})

atto = None


def setup():
    global atto
    atto = lib.Atto(SITE, enable=("http", "https"), args=["--workers", "2"]).start()


def dev_cert(site=None):
    return os.path.join(site or SITE, ".atto", "cert.pem")


def url(path, host="127.0.0.1", port=None):
    return "https://%s:%d%s" % (host, port or atto.https, path)


def der_of(pem_path):
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def insecure_ctx(**kw):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def peer_cert(port, sni=None, ctx=None):
    """The DER certificate the server shows for this SNI name (None: no SNI)."""
    ctx = ctx or insecure_ctx()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname=sni) as t:
            return t.getpeercert(binary_form=True)


def s_client(args, data=b"", port=None, timeout=15):
    """openssl s_client against atto; returns its combined output as text."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % (port or atto.https)] + args
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
    return (p.stdout + p.stderr).decode(errors="replace")


GET_CLOSE = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def served():
    """The server still answers a fresh HTTPS request."""
    rc, out, err = lib.curl("--http1.1", "-k", url("/"))
    assert rc == 0 and out == b"root", (rc, out, err)
    assert atto.alive(), atto.output()


# ---- clients that should work ------------------------------------------------

def test_curl_tls13():
    rc, out, err = lib.curl("-v", "--http1.1", "-k", "--tlsv1.3", url("/info"))
    assert rc == 0, err
    assert "SSL connection using TLSv1.3" in err, err
    assert b'"scheme":"https"' in out and b'"proto":"HTTP\\/1.1"' in out, out
    assert "ALPN: server accepted http/1.1" in err or "ALPN, server accepted to use http/1.1" in err, err


def test_curl_tls12():
    rc, out, err = lib.curl("-v", "--http1.1", "-k", "--tls-max", "1.2", url("/info"))
    assert rc == 0, err
    assert "SSL connection using TLSv1.2 / ECDHE-" in err, err
    assert "GCM" in err or "CHACHA20" in err, err
    assert b'"scheme":"https"' in out, out


def test_curl_ipv6():
    rc, out, err = lib.curl("--http1.1", "-k", url("/", host="[::1]"))
    assert rc == 0 and out == b"root", (rc, out, err)


def test_curl_verifies_dev_cert():
    rc, out, err = lib.curl("--http1.1", "--cacert", dev_cert(), url("/", host="localhost"))
    assert rc == 0 and out == b"root", (rc, out, err)
    # 127.0.0.1 is in the subjectAltName too
    rc, out, err = lib.curl("--http1.1", "--cacert", dev_cert(), url("/"))
    assert rc == 0 and out == b"root", (rc, out, err)
    # without the CA the self-signed certificate is (rightly) not trusted
    rc, out, err = lib.curl("--http1.1", url("/", host="localhost"))
    assert rc == 60, (rc, err)


def test_dev_cert_files():
    d = os.path.join(SITE, ".atto")
    assert os.stat(d).st_mode & 0o777 == 0o700, oct(os.stat(d).st_mode)
    assert os.stat(os.path.join(d, "key.pem")).st_mode & 0o777 == 0o600
    text = subprocess.run(["openssl", "x509", "-in", dev_cert(), "-noout", "-text"],
                          capture_output=True, timeout=10).stdout.decode()
    assert "DNS:localhost" in text and "IP Address:127.0.0.1" in text and "IP Address:0:0:0:0:0:0:0:1" in text, text
    assert "CA:FALSE" in text and "TLS Web Server Authentication" in text, text


def test_python_ssl_keepalive():
    ctx = ssl.create_default_context(cafile=dev_cert())
    c = http.client.HTTPSConnection("localhost", atto.https, context=ctx, timeout=10)
    c.request("GET", "/info")
    r = c.getresponse()
    assert r.status == 200 and b'"scheme":"https"' in r.read()
    sock = c.sock
    assert sock.version() in ("TLSv1.3", "TLSv1.2"), sock.version()
    for i in range(20):
        c.request("GET", "/small.txt" if i % 2 else "/")
        r = c.getresponse()
        body = r.read()
        assert r.status == 200 and body == (b"small\n" if i % 2 else b"root"), (i, body)
        assert (r.getheader("connection") or "").lower() != "close"
        assert c.sock is sock, "request %d needed a new connection" % i
    c.close()


def test_python_ssl_hostname_checked():
    ctx = ssl.create_default_context(cafile=dev_cert())
    with socket.create_connection(("127.0.0.1", atto.https), timeout=5) as s:
        try:
            ctx.wrap_socket(s, server_hostname="not-localhost.test")
        except ssl.SSLCertVerificationError as e:
            assert "mismatch" in str(e) or "match" in str(e), e
        else:
            raise AssertionError("a certificate for localhost passed for not-localhost.test")


def test_big_post_and_response():
    ctx = insecure_ctx()
    c = http.client.HTTPSConnection("127.0.0.1", atto.https, context=ctx, timeout=20)
    c.request("POST", "/echo", body=BIG, headers={"Content-Type": "application/octet-stream"})
    r = c.getresponse()
    body = r.read()
    assert r.status == 200 and len(body) == len(BIG), (r.status, len(body))
    assert hashlib.sha256(body).digest() == hashlib.sha256(BIG).digest()
    c.request("GET", "/big.bin")
    r = c.getresponse()
    body = r.read()
    assert r.status == 200 and body == BIG, (r.status, len(body))
    c.close()
    # curl, chunked upload of 1 MiB, TLS 1.2
    path = os.path.join(CERTS, "big.bin")
    with open(path, "wb") as f:
        f.write(BIG)
    rc, out, err = lib.curl("--http1.1", "-k", "--tls-max", "1.2", "-H", "Transfer-Encoding: chunked",
                            "--data-binary", "@" + path, url("/sha"))
    assert rc == 0 and out == b"1048576", (rc, out, err)
    rc, out, err = lib.curl("--http1.1", "-k", url("/big.bin"))
    assert rc == 0 and out == BIG, (rc, len(out), err)


def test_scheme_http_vs_https():
    st, hd, body = lib.http_get(atto.http, "/info")
    assert b'"scheme":"http"' in body, body
    rc, out, err = lib.curl("--http1.1", "-k", url("/info"))
    assert b'"scheme":"https"' in out, out


# ---- openssl s_client ----------------------------------------------------------

def test_alpn_http11():
    out = s_client(["-alpn", "http/1.1", "-ign_eof"], GET_CLOSE)
    assert "ALPN protocol: http/1.1" in out, out
    assert "HTTP/1.1 200 OK" in out and "root" in out, out


def test_alpn_unknown_protocol_goes_on():
    out = s_client(["-alpn", "spdy/3", "-ign_eof"], GET_CLOSE)
    assert "No ALPN negotiated" in out, out
    assert "HTTP/1.1 200 OK" in out, out
    out = s_client(["-ign_eof"], GET_CLOSE)         # no ALPN at all
    assert "HTTP/1.1 200 OK" in out, out


def test_sni_selects_certificate():
    assert peer_cert(atto.https, "a.test") == der_of(A_CERT)
    assert peer_cert(atto.https, "A.TEST") == der_of(A_CERT)      # case-insensitive
    assert peer_cert(atto.https, "b.test") == der_of(B_CERT)
    assert peer_cert(atto.https, "unknown.test") == der_of(dev_cert())
    assert peer_cert(atto.https, None) == der_of(dev_cert())
    out = s_client(["-servername", "a.test"])
    assert "subject=CN = a.test" in out, out
    out = s_client(["-servername", "b.test"])
    assert "subject=CN = b.test" in out, out
    out = s_client(["-servername", "nowhere.test"])
    assert "subject=CN = localhost" in out, out
    out = s_client(["-noservername"])
    assert "subject=CN = localhost" in out, out


def test_sni_verified_by_curl():
    for host, cert in (("a.test", A_CERT), ("b.test", B_CERT)):
        rc, out, err = lib.curl("--http1.1", "--cacert", cert,
                                "--resolve", "%s:%d:127.0.0.1" % (host, atto.https),
                                "https://%s:%d/info" % (host, atto.https))
        assert rc == 0 and ('"host":"%s:%d"' % (host, atto.https)).encode() in out, (rc, out, err)
    # the dev certificate does not vouch for a.test
    rc, out, err = lib.curl("--http1.1", "--cacert", dev_cert(),
                            "--resolve", "a.test:%d:127.0.0.1" % atto.https,
                            "https://a.test:%d/" % atto.https)
    assert rc == 60, (rc, err)


def test_protocol_versions():
    for v in ("-tls1", "-tls1_1"):
        # SECLEVEL=0 makes the client really offer the old version
        out = s_client([v, "-cipher", "DEFAULT@SECLEVEL=0"])
        assert "alert protocol version" in out, (v, out)
        assert "Cipher is (NONE)" in out or "no peer certificate available" in out, (v, out)
    out = s_client(["-tls1_2", "-ign_eof"], GET_CLOSE)
    assert "New, TLSv1.2, Cipher is ECDHE-" in out and "HTTP/1.1 200 OK" in out, out
    out = s_client(["-tls1_3", "-ign_eof"], GET_CLOSE)
    assert "New, TLSv1.3, Cipher is TLS_" in out and "HTTP/1.1 200 OK" in out, out
    # Python's ssl capped at TLS 1.1 is refused as well
    ctx = insecure_ctx()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT@SECLEVEL=0")
    try:
        peer_cert(atto.https, ctx=ctx)
    except ssl.SSLError as e:
        assert "PROTOCOL_VERSION" in str(e).upper() or "NO_PROTOCOLS" in str(e).upper(), e
    else:
        raise AssertionError("TLS 1.1 handshake succeeded")
    served()


def test_weak_tls12_ciphers_refused():
    # CBC suites and RSA key exchange are not offered
    for cipher in ("AES128-SHA", "AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-SHA"):
        out = s_client(["-tls1_2", "-cipher", cipher])
        assert "alert handshake failure" in out and "Cipher is (NONE)" in out, (cipher, out)
    served()


def resumption(version, extra=()):
    sess = os.path.join(CERTS, "sess-%s.pem" % version)
    first = s_client([version, "-sess_out", sess, "-ign_eof"] + list(extra), GET_CLOSE)
    assert first.count("\nNew, ") == 1 and "HTTP/1.1 200 OK" in first, first
    second = s_client([version, "-sess_in", sess, "-ign_eof"] + list(extra), GET_CLOSE)
    assert "\nReused, " in second and "HTTP/1.1 200 OK" in second, second
    return second


def test_resumption_tls12_ticket():
    out = resumption("-tls1_2")
    assert "Reused, TLSv1.2" in out, out


def test_resumption_tls12_session_cache():
    out = resumption("-tls1_2", ["-no_ticket"])
    assert "Reused, TLSv1.2" in out, out


def test_resumption_tls13():
    out = resumption("-tls1_3")
    assert "Reused, TLSv1.3" in out, out


def test_resumption_python():
    ctx = insecure_ctx()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", atto.https), timeout=5) as s:
        with ctx.wrap_socket(s) as t:
            sess = t.session
            assert not t.session_reused
    with socket.create_connection(("127.0.0.1", atto.https), timeout=5) as s:
        with ctx.wrap_socket(s, session=sess) as t:
            assert t.session_reused
            t.sendall(GET_CLOSE)
            assert t.recv(100).startswith(b"HTTP/1.1 200")


# ---- bad input ------------------------------------------------------------------

def closed_quickly(data, limit=3.0):
    """Send bytes to the TLS port; the server must close within `limit` s."""
    t0 = time.time()
    out = lib.raw(atto.https, data, timeout=limit + 2)
    took = time.time() - t0
    assert took < limit, "connection stayed open %.1f s after %r" % (took, data[:20])
    return out


def test_garbage_bytes():
    import random
    rnd = random.Random(4)
    cases = [
        b"\x00" * 64,
        b"\xff\xfe\xfd\xfc" * 100,
        b"\x16\x03\x01\x00\x30" + bytes(rnd.randrange(256) for _ in range(48)),   # record of junk
        b"\x16\x03\x03\xff\xff" + b"A" * 200,                                     # oversized length
        b"\x17\x03\x03\x00\x10" + b"B" * 16,                                      # data before hello
        bytes(rnd.randrange(256) for _ in range(4096)),
        b"get / http/1.1\r\n\r\n",
    ]
    for data in cases:
        out = closed_quickly(data)
        # either nothing or a TLS alert record (content type 21), never HTTP
        assert out == b"" or out[:1] == b"\x15", (data[:8], out[:40])
    served()


def test_plain_http_on_tls_port():
    out = closed_quickly(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 "), out
    assert b"HTTPS" in out and b"Connection: close" in out, out
    assert len(out) < 300, out
    head, _, body = out.partition(b"\r\n\r\n")
    clen = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
    assert len(clen) == 1 and int(clen[0].split(b":")[1]) == len(body), (clen, body)
    # curl, pointed at the wrong scheme, gets a readable answer
    rc, out, err = lib.curl("-i", "http://127.0.0.1:%d/" % atto.https)
    assert rc == 0 and b" 400 " in out and b"https://" in out, (rc, out, err)
    assert "Excess" not in err, err
    out = closed_quickly(b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
    assert out.startswith(b"HTTP/1.1 400 "), out
    # the request split across packets: the first bytes are enough
    s = socket.create_connection(("127.0.0.1", atto.https), timeout=5)
    s.sendall(b"GE")
    time.sleep(0.1)
    try:
        s.sendall(b"T / HTTP/1.1\r\n\r\n")
    except OSError:
        pass
    got = b""
    while True:
        try:
            chunk = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        got += chunk
    s.close()
    assert got.startswith(b"HTTP/1.1 400 "), got
    served()


def client_hello():
    """A real TLS ClientHello, from Python's ssl over memory BIOs."""
    inc, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = insecure_ctx().wrap_bio(inc, outb, server_side=False, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outb.read()


def test_stalled_handshakes_dropped():
    hello = client_hello()
    assert hello[:1] == b"\x16", hello[:5]
    results = {}

    def stall(name, data, read_flight):
        s = socket.create_connection(("127.0.0.1", atto.https), timeout=20)
        t0 = time.time()
        try:
            if data:
                s.sendall(data)
            if read_flight:
                first = s.recv(65536)
                assert first[:1] == b"\x16", first[:5]   # ServerHello...; then we stall
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
            results[name] = time.time() - t0
        except ConnectionResetError:
            results[name] = time.time() - t0
        except Exception as e:  # noqa: BLE001 - reported below
            results[name] = e
        finally:
            s.close()

    threads = [threading.Thread(target=stall, args=a) for a in
               (("silent", b"", False), ("half-hello", hello[:len(hello) // 2], False),
                ("after-server-flight", hello, True))]
    for t in threads:
        t.start()
    # meanwhile a completed connection idles past the handshake timeout: the
    # handshake timer must not drop it (HTTP keep-alive is 20 s)
    c = http.client.HTTPSConnection("127.0.0.1", atto.https, context=insecure_ctx(), timeout=30)
    c.request("GET", "/")
    assert c.getresponse().read() == b"root"
    sock = c.sock
    time.sleep(1)
    served()                         # others are served while those stall
    for t in threads:
        t.join(25)
    c.request("GET", "/small.txt")
    assert c.getresponse().read() == b"small\n"
    assert c.sock is sock, "the idle TLS connection was dropped"
    c.close()
    for name in ("silent", "half-hello", "after-server-flight"):
        took = results.get(name)
        assert isinstance(took, float), (name, took)
        assert 9.0 <= took <= 13.0, "%s: dropped after %.1f s, want about 10" % (name, took)
    served()


def run_atto(*args, timeout=15):
    p = subprocess.run([lib.ATTO] + list(args), capture_output=True, timeout=timeout, cwd=lib.ROOT)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


def only_https(port=None):
    args = []
    for name in lib.LISTENERS:
        args += ["--" + name, str(port or lib.free_port()) if name == "https" else "0"]
    return args


def test_missing_cert_file():
    site = lib.tmp_site({"index.lua": 'site:get("/", function(req, res) res:text("x") end)\n'})
    missing = os.path.join(CERTS, "no-such-cert.pem")
    rc, out = run_atto(site, *only_https(), "--cert", missing, "--key", A_KEY)
    lines = out.strip().splitlines()
    assert rc != 0 and len(lines) == 1 and missing in lines[0], (rc, out)
    assert "No such file" in out, out
    missing_key = os.path.join(CERTS, "no-such-key.pem")
    rc, out = run_atto(site, *only_https(), "--cert", A_CERT, "--key", missing_key)
    lines = out.strip().splitlines()
    assert rc != 0 and len(lines) == 1 and missing_key in lines[0], (rc, out)
    # a file that is not PEM
    junk = os.path.join(CERTS, "junk.pem")
    with open(junk, "w") as f:
        f.write("this is not a certificate\n")
    rc, out = run_atto(site, *only_https(), "--cert", junk, "--key", A_KEY)
    lines = out.strip().splitlines()
    assert rc != 0 and len(lines) == 1 and junk in lines[0], (rc, out)
    # an SNI entry in site:listen with a missing file is named as well
    bad_sni = lib.tmp_site({"index.lua": 'site:listen{ tls = { {host="c.test", cert="%s", key="%s"} } }\n'
                                         'site:get("/", function(req, res) res:text("x") end)\n'
                                         % (missing, A_KEY)})
    rc, out = run_atto(bad_sni, *only_https())
    assert rc != 0 and missing in out and len(out.strip().splitlines()) == 1, (rc, out)


def test_mismatched_key():
    site = lib.tmp_site({"index.lua": 'site:get("/", function(req, res) res:text("x") end)\n'})
    rc, out = run_atto(site, *only_https(), "--cert", A_CERT, "--key", B_KEY)
    lines = out.strip().splitlines()
    assert rc != 0 and len(lines) == 1, (rc, out)
    assert "does not match" in out and A_CERT in out and B_KEY in out, out
    # --cert without --key is a usage error, not a silent dev certificate
    rc, out = run_atto(site, *only_https(), "--cert", A_CERT)
    assert rc != 0 and "--key" in out, (rc, out)


def wait_log(a, text, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if text in a.output():
            return True
        time.sleep(0.05)
    return False


def test_sighup_reloads_certificate():
    d = tempfile.mkdtemp(prefix="atto-reload-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    one_cert, one_key = make_cert("one", "one.test")
    two_cert, two_key = make_cert("two", "two.test", kind="rsa")
    shutil.copy(one_cert, cert)
    shutil.copy(one_key, key)
    site = lib.tmp_site({"index.lua": 'site:get("/", function(req, res) res:text("x") end)\n'})
    with lib.Atto(site, enable=("https",), args=["--cert", cert, "--key", key]) as a:
        assert peer_cert(a.https) == der_of(one_cert)
        # an open keep-alive connection made with the old certificate
        c = http.client.HTTPSConnection("127.0.0.1", a.https, context=insecure_ctx(), timeout=10)
        c.request("GET", "/")
        assert c.getresponse().read() == b"x"
        old_sock = c.sock
        assert old_sock.getpeercert(True) == der_of(one_cert)
        # a renewal script replaces both files, then signals
        shutil.copy(two_cert, cert + ".new")
        shutil.copy(two_key, key + ".new")
        os.replace(cert + ".new", cert)
        os.replace(key + ".new", key)
        a.proc.send_signal(signal.SIGHUP)
        assert wait_log(a, "SIGHUP"), a.output()
        end = time.time() + 5
        while peer_cert(a.https) != der_of(two_cert) and time.time() < end:
            time.sleep(0.05)
        assert peer_cert(a.https) == der_of(two_cert), "new connections still see the old certificate"
        for _ in range(3):
            c.request("GET", "/")
            assert c.getresponse().read() == b"x"
        assert c.sock is old_sock, "the open connection was dropped by the reload"
        c.close()
        assert "reload failed" not in a.output(), a.output()


def test_sighup_broken_certificate_keeps_old():
    d = tempfile.mkdtemp(prefix="atto-reload-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    shutil.copy(A_CERT, cert)
    shutil.copy(A_KEY, key)
    site = lib.tmp_site({"index.lua": 'site:get("/", function(req, res) res:text("x") end)\n'})
    with lib.Atto(site, enable=("https",), args=["--cert", cert, "--key", key]) as a:
        assert peer_cert(a.https) == der_of(A_CERT)
        with open(cert, "w") as f:            # a renewal gone wrong: truncated file
            f.write("-----BEGIN CERTIFICATE-----\nMIIB\n")
        a.proc.send_signal(signal.SIGHUP)
        assert wait_log(a, "certificate reload failed"), a.output()
        line = [l for l in a.output().splitlines() if "certificate reload failed" in l][0]
        assert cert in line, line
        assert peer_cert(a.https) == der_of(A_CERT)
        # a mismatched pair is refused too
        shutil.copy(B_CERT, cert)
        a.proc.send_signal(signal.SIGHUP)
        end = time.time() + 5
        while a.output().count("certificate reload failed") < 2 and time.time() < end:
            time.sleep(0.05)
        assert a.output().count("certificate reload failed") == 2, a.output()
        assert "does not match" in a.output(), a.output()
        assert peer_cert(a.https) == der_of(A_CERT)
        rc, out, err = lib.curl("--http1.1", "-k", "https://127.0.0.1:%d/" % a.https)
        assert rc == 0 and out == b"x", (rc, out, err)
        # fixed files are picked up by the next SIGHUP
        shutil.copy(B_KEY, key)
        a.proc.send_signal(signal.SIGHUP)
        end = time.time() + 5
        while peer_cert(a.https) != der_of(B_CERT) and time.time() < end:
            time.sleep(0.05)
        assert peer_cert(a.https) == der_of(B_CERT)


def test_https_redirect():
    with lib.Atto(REDIRECT_SITE, enable=("http", "https")) as a:
        rc, out, err = lib.curl("-i", "http://127.0.0.1:%d/where?q=1&r=%%20" % a.http)
        assert rc == 0 and out.startswith(b"HTTP/1.1 301 "), out
        want = "location: https://127.0.0.1:%d/where?q=1&r=%%20\r\n" % a.https
        assert want.encode() in out.lower(), out
        rc, out, err = lib.curl("-i", "-H", "Host: localhost:%d" % a.http, "http://127.0.0.1:%d/" % a.http)
        assert ("location: https://localhost:%d/\r\n" % a.https).encode() in out.lower(), out
        # followed, the https side answers
        rc, out, err = lib.curl("-L", "-k", "--http1.1", "http://127.0.0.1:%d/where" % a.http)
        assert rc == 0 and out == b"scheme=https", (rc, out, err)
        rc, out, err = lib.curl("-k", "--http1.1", "https://127.0.0.1:%d/where" % a.https)
        assert rc == 0 and out == b"scheme=https", (rc, out, err)


if __name__ == "__main__":
    lib.run_with_server(globals(), setup, lambda: shutil.rmtree(CERTS, ignore_errors=True))
