"""Operations: the status page, SIGHUP reloading scripts under load with no
failed request, --dev hot reload and traceback pages, --user, and the
access log's companion behaviours. Real clients: curl, http.client."""
import json, os, signal, subprocess, threading, time
import lib


def get(port, path, timeout=10):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def test_status_page_is_off_by_default():
    site = lib.tmp_site({"index.lua": "site:get('/', function(req, res) res:text('x') end)\n"})
    with lib.Atto(site) as a:
        assert get(a.http, "/.well-known/atto/status")[0] == 404


def test_status_page_counts():
    site = lib.tmp_site({"index.lua": "site:listen{ status_page = true }\n"
                                      "site:get('/', function(req, res) res:text('x') end)\n"})
    with lib.Atto(site, args=["--workers", "2"]) as a:
        for _ in range(5):
            get(a.http, "/")
        st, body = get(a.http, "/.well-known/atto/status")
        j = json.loads(body)
        assert st == 200 and j["workers"] == 2 and j["requests"] >= 6, j
        assert j["connections_total"] >= 6 and j["rss_kb"] > 0 and j["uptime_s"] >= 0, j


def test_sighup_reloads_scripts_under_load_without_failures():
    site = lib.tmp_site({"index.lua": "site:get('/v', function(req, res) res:text('one') end)\n"})
    with lib.Atto(site, args=["--workers", "2"]) as a:
        stop = threading.Event()
        results = []

        def load():
            while not stop.is_set():
                try:
                    results.append(get(a.http, "/v", timeout=5))
                except Exception as e:  # noqa: BLE001 - a failure is what we look for
                    results.append((0, repr(e).encode()))

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        with open(os.path.join(site, "index.lua"), "w") as f:
            f.write("site:get('/v', function(req, res) res:text('two') end)\n")
        for _ in range(3):
            a.proc.send_signal(signal.SIGHUP)
            time.sleep(0.3)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        bad = [r for r in results if r[0] != 200]
        assert not bad, bad[:5]
        assert len(results) > 50, len(results)
        assert get(a.http, "/v")[1] == b"two"


def test_sighup_with_a_broken_script_keeps_the_old_one():
    site = lib.tmp_site({"index.lua": "site:get('/v', function(req, res) res:text('good') end)\n"})
    with lib.Atto(site) as a:
        with open(os.path.join(site, "index.lua"), "w") as f:
            f.write("site:get('/v', function(req, res)\n  res:text('bad'\nend)\n")
        a.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert get(a.http, "/v")[1] == b"good"
        assert "index.lua:3:" in a.output(), a.output()


def test_dev_mode_reloads_on_change_and_shows_tracebacks():
    site = lib.tmp_site({"index.lua": "site:get('/v', function(req, res) res:text('before') end)\n"
                                      "site:get('/err', function(req, res) error('dev boom') end)\n"})
    with lib.Atto(site, args=["--dev"]) as a:
        assert get(a.http, "/v")[1] == b"before"
        st, body = get(a.http, "/err")
        assert st == 500 and b"dev boom" in body and b"traceback" in body.lower(), body
        time.sleep(1.1)   # mtime granularity
        with open(os.path.join(site, "index.lua"), "w") as f:
            f.write("site:get('/v', function(req, res) res:text('after') end)\n")
        deadline = time.time() + 5
        while time.time() < deadline and get(a.http, "/v")[1] != b"after":
            time.sleep(0.2)
        assert get(a.http, "/v")[1] == b"after"


def test_no_traceback_without_dev():
    site = lib.tmp_site({"index.lua": "site:get('/err', function(req, res) error('secret detail') end)\n"})
    with lib.Atto(site) as a:
        st, body = get(a.http, "/err")
        assert st == 500 and b"secret detail" not in body and b"index.lua" not in body, body


def test_user_drops_privileges():
    if os.getuid() != 0:
        raise AssertionError("this test runs as root (CI does)")
    site = lib.tmp_site({"index.lua": "site:get('/', function(req, res) res:text('x') end)\n"})
    os.chmod(site, 0o755)
    os.chmod(os.path.join(site, "index.lua"), 0o644)
    with lib.Atto(site, args=["--user", "nobody"]) as a:
        assert get(a.http, "/")[1] == b"x"
        uid = None
        with open("/proc/%d/status" % a.proc.pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    uid = int(line.split()[1])
        import pwd
        assert uid == pwd.getpwnam("nobody").pw_uid, uid
    p = subprocess.run([lib.ATTO, site, "--user", "no-such-user-here", "--http", str(lib.free_port()),
                        "--https", "0"], capture_output=True, timeout=10)
    assert p.returncode != 0 and b"no-such-user-here" in p.stderr, p.stderr


def test_sessions_survive_a_restart():
    site = lib.tmp_site({"index.lua": "site:get('/n', function(req, res)\n"
                                      "  local s = req.session\n"
                                      "  s.n = (s.n or 0) + 1\n"
                                      "  res:text(tostring(s.n))\n"
                                      "end)\n"})
    import tempfile
    jar = os.path.join(tempfile.mkdtemp(), "jar")
    a = lib.Atto(site).start()
    port = a.http
    for want in (b"1", b"2"):
        rc, out, err = lib.curl("-c", jar, "-b", jar, "http://127.0.0.1:%d/n" % port)
        assert out == want, (out, err)
    assert a.stop() == 0
    snap = os.path.join(site, ".atto", "sessions")
    assert os.path.exists(snap) and (os.stat(snap).st_mode & 0o777) == 0o600, snap
    b = lib.Atto(site)
    b.ports["http"] = port          # the same port, so the cookie jar sends the cookie
    b.args[b.args.index("--http") + 1] = str(port)
    b.start()
    try:
        rc, out, err = lib.curl("-c", jar, "-b", jar, "http://127.0.0.1:%d/n" % port)
        assert out == b"3", (out, err, b.output())
    finally:
        assert b.stop() == 0
    with open(snap, "w") as f:       # a damaged snapshot never stops a start
        f.write("atto-sessions 1\nnot a record\n")
    c = lib.Atto(site).start()
    try:
        assert c.alive() and lib.http_get(c.http, "/n")[2] == b"1"
        assert "damaged" in c.output(), c.output()
    finally:
        assert c.stop() == 0


if __name__ == "__main__":
    import sys
    sys.exit(1 if lib.main(globals()) else 0)
