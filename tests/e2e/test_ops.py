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


# ---- worker processes: a crash is contained and repaired -------------------

PID_SITE = ("local function pid()\n"
            "  local f = io.open('/proc/self/stat'); local s = f:read('l'); f:close()\n"
            "  return s:match('^(%d+)')\n"
            "end\n"
            "site:get('/pid', function(req, res) res:text(pid()) end)\n"
            "site:get('/slow', function(req, res) atto.sleep(1.5) res:text(pid()) end)\n")


def workers_of(pid, want=None, a=None):
    """The worker processes of master pid (waiting, bounded, for `want` of
    them, all started: the port answers as soon as the master has bound it,
    the listener lines come once every worker is ready)."""
    deadline = time.time() + 10
    while a is not None and "atto: http " not in a.output() and time.time() < deadline:
        time.sleep(0.02)
    while True:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = [int(x) for x in f.read().split()]
        if want is None or len(kids) >= want or time.time() > deadline:
            return kids
        time.sleep(0.02)


def socket_owner(server_port, client_port, pids):
    """Which of pids holds the server side of 127.0.0.1:client_port."""
    want = "0100007F:%04X" % server_port, "0100007F:%04X" % client_port
    inode = None
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            p = line.split()
            if (p[1], p[2]) == want:
                inode = p[9]
    for pid in pids:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "socket:[%s]" % inode:
                    return pid
            except OSError:
                pass
    return None


def test_a_crashed_worker_is_restarted_and_the_others_finish():
    import http.client, socket
    site = lib.tmp_site({"index.lua": PID_SITE})
    with lib.Atto(site, args=["--workers", "2"]) as a:
        kids = workers_of(a.proc.pid, 2, a)
        assert len(kids) == 2, kids
        conns = {k: [] for k in kids}
        for _ in range(60):                 # until each worker holds two
            if all(len(v) >= 2 for v in conns.values()):
                break
            c = http.client.HTTPConnection("127.0.0.1", a.http, timeout=10)
            c.connect()
            c.request("GET", "/slow")
            port = c.sock.getsockname()[1]
            owner = None
            for _ in range(50):
                owner = socket_owner(a.http, port, kids)
                if owner:
                    break
                time.sleep(0.01)
            assert owner, "no worker holds the connection"
            conns[owner].append(c)
        victim, survivor = kids
        assert len(conns[victim]) >= 2 and len(conns[survivor]) >= 2, conns
        os.kill(victim, signal.SIGABRT)     # a crash (ASan would catch a SIGSEGV itself)
        for c in conns[survivor]:           # in flight on the other worker: unaffected
            r = c.getresponse()
            assert r.status == 200 and r.read() == str(survivor).encode()
        for c in conns[victim]:
            try:
                r = c.getresponse()
                raise AssertionError("a killed worker answered: %d" % r.status)
            except (http.client.HTTPException, ConnectionError, socket.timeout):
                pass
        deadline = time.time() + 5
        while time.time() < deadline and (len(workers_of(a.proc.pid)) < 2 or victim in workers_of(a.proc.pid)):
            time.sleep(0.05)
        now = workers_of(a.proc.pid)
        assert len(now) == 2 and survivor in now and victim not in now, now
        seen = set()
        for _ in range(40):
            st, body = get(a.http, "/pid")
            assert st == 200, st
            seen.add(int(body))
        assert seen <= set(now), (seen, now)
        assert "worker" in a.output() and "(pid %d) was killed by signal 6" % victim in a.output(), a.output()


def test_killing_the_master_takes_the_workers_with_it():
    site = lib.tmp_site({"index.lua": PID_SITE})
    a = lib.Atto(site, args=["--workers", "2"]).start()
    kids = workers_of(a.proc.pid, 2, a)
    a.proc.kill()
    a.proc.wait(timeout=10)
    deadline = time.time() + 5
    while time.time() < deadline and any(os.path.exists("/proc/%d" % k) for k in kids):
        time.sleep(0.05)
    assert not any(os.path.exists("/proc/%d/stat" % k) and
                   open("/proc/%d/stat" % k).read().split()[2] != "Z" for k in kids), kids
    b = lib.Atto(site, args=["--workers", "1"])
    b.ports["http"] = a.http           # the port is free again at once
    b.args[b.args.index("--http") + 1] = str(a.http)
    b.start()
    try:
        assert get(b.http, "/pid")[0] == 200
    finally:
        assert b.stop() == 0


def test_status_page_counts_every_worker_process():
    site = lib.tmp_site({"index.lua": "site:listen{ status_page = true }\n" + PID_SITE})
    with lib.Atto(site, args=["--workers", "2"]) as a:
        pids = set()
        for _ in range(30):
            pids.add(int(get(a.http, "/pid")[1]))
        j = json.loads(get(a.http, "/.well-known/atto/status")[1])
        assert j["workers"] == 2 and j["requests"] >= 31 and j["connections_total"] >= 31, j


# ---- server messages: levels and a file -------------------------------------

def test_error_log_file_with_levels():
    import re, tempfile
    site = lib.tmp_site({"index.lua": PID_SITE})
    log = os.path.join(tempfile.mkdtemp(), "error.log")
    a = lib.Atto(site, args=["--workers", "2", "--error-log", log, "--log-level", "debug"]).start()
    kid = workers_of(a.proc.pid, 2, a)[0]
    os.kill(kid, signal.SIGKILL)
    time.sleep(0.5)
    assert a.stop() == 0
    text = open(log).read()
    line = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[\d+\] atto: ")
    assert text and all(line.match(l) for l in text.splitlines()), text
    assert "atto: debug: worker 0 serving" in text or "atto: debug: worker 1 serving" in text, text
    assert "(pid %d) was killed by signal 9" % kid in text and "atto: stopped" in text, text
    assert "was killed" not in a.output(), a.output()     # the file, not stderr

    b = lib.Atto(site, args=["--log-level", "error"]).start()    # quiet: errors only
    assert b.stop() == 0
    assert "stopped" not in b.output() and "SIGTERM" not in b.output(), b.output()

    p = subprocess.run([lib.ATTO, site, "--log-level", "loud"], capture_output=True, timeout=10)
    assert p.returncode != 0 and b"--log-level" in p.stderr, p.stderr
    p = subprocess.run([lib.ATTO, site, "--error-log", "/nonexistent-dir/x.log", "--http",
                        str(lib.free_port()), "--https", "0"], capture_output=True, timeout=10)
    assert p.returncode != 0 and b"/nonexistent-dir/x.log" in p.stderr, p.stderr


if __name__ == "__main__":
    import sys
    sys.exit(1 if lib.main(globals()) else 0)
