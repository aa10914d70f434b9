"""lib.py — shared helpers for atto's end-to-end tests.

A test file defines functions named test_* and ends with
`sys.exit(1 if lib.main(globals()) else 0)` (main returns the failure count).
Each test prints "ok NAME" or "FAIL NAME: why" (tests/run counts them).

    atto = lib.Atto("sites/hello")          # free ports, every other listener off
    atto.start(); ...; atto.stop()          # stop() checks a clean exit 0
    with lib.Atto(site) as a: lib.http_get(a.http, "/")

Ports are chosen at run time; every wait is bounded.
"""
import atexit, os, socket, subprocess, sys, tempfile, time, traceback, shutil, signal

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ATTO = os.path.join(ROOT, os.environ.get("ATTO_BIN", "build/release/atto"))
LISTENERS = ["http", "https", "smtp", "submission", "imap", "pop3", "gopher",
             "smtps", "imaps", "pop3s"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10.0, host="127.0.0.1"):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def tmp_site(files):
    """Make a throwaway site folder from {relative path: text or bytes}."""
    d = tempfile.mkdtemp(prefix="atto-site-")
    for rel, data in files.items():
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
    return d


RUNNING = set()   # servers started and not yet stopped


@atexit.register
def _no_server_left_behind():
    """A test that failed before stopping its server must not leave it
    running past this file (the workers die with the master)."""
    for a in list(RUNNING):
        a.stop(check=False, sig=signal.SIGKILL)


class Atto:
    """One atto server on free ports. `enable` names listeners to turn on
    (default: http only); the others get port 0 (off)."""

    def __init__(self, site, enable=("http",), args=(), env=None):
        self.site = site if os.path.isabs(site) else os.path.join(ROOT, site)
        self.ports = {}
        self.args = [ATTO, self.site]
        for name in LISTENERS:
            port = free_port() if name in enable else 0
            self.ports[name] = port
            self.args += ["--" + name, str(port)]
        self.args += list(args)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.logf = None

    def __getattr__(self, name):
        if name in LISTENERS:
            return self.ports[name]
        raise AttributeError(name)

    def start(self, wait=True):
        self.logf = tempfile.NamedTemporaryFile(prefix="atto-log-", delete=False)
        self.proc = subprocess.Popen(self.args, stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env, cwd=ROOT)
        RUNNING.add(self)
        if wait:
            for name, port in self.ports.items():
                if port and not wait_port(port):
                    self.stop(check=False)
                    raise RuntimeError("atto did not listen on %s port %d:\n%s" % (name, port, self.output()))
        return self

    def output(self):
        if not self.logf:
            return ""
        with open(self.logf.name, "rb") as f:
            return f.read().decode(errors="replace")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, check=True, sig=signal.SIGTERM):
        RUNNING.discard(self)
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                if check:
                    raise AssertionError("atto did not exit within 15 s of SIGTERM")
        rc = self.proc.returncode
        self.proc = None
        out = self.output()
        if check and rc != 0:
            raise AssertionError("atto exited %s:\n%s" % (rc, out[-3000:]))
        if check and ("ERROR: AddressSanitizer" in out or "runtime error:" in out):
            raise AssertionError("sanitizer report:\n" + out[-5000:])
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, et, ev, tb):
        self.stop(check=et is None)


def raw(port, data, timeout=5.0, host="127.0.0.1", until_close=True, shutdown=False):
    """Send bytes, read until the peer closes (or timeout); return bytes."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(data)
        if shutdown:
            s.shutdown(socket.SHUT_WR)
        out = b""
        end = time.time() + timeout
        while time.time() < end:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
            if not until_close:
                break
        return out
    finally:
        s.close()


def curl(*args, timeout=20):
    """Run curl; return (exit code, stdout bytes, stderr text)."""
    p = subprocess.run(["curl", "-sS", "--max-time", "10"] + list(args),
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def http_get(port, path, headers=None, host="127.0.0.1"):
    import http.client
    c = http.client.HTTPConnection(host, port, timeout=10)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), body


def status_of(resp):
    """The status code of the first response in raw bytes, or None."""
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


class ImapRaw:
    """A bare IMAP client on raw bytes (imaplib parses and reshapes what it
    reads; tests that compare a server's exact answers, and bench/imap.sh,
    need them as sent). cmd() returns the untagged lines of the answer and
    fails unless the tagged line is OK."""

    def __init__(self, port, timeout=20):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.n = 0
        self.buf = b""
        self.until(b"\r\n")

    def until(self, end):
        while True:
            k = self.buf.find(end)
            if k >= 0:
                out, self.buf = self.buf[:k + len(end)], self.buf[k + len(end):]
                return out
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise AssertionError("connection closed")
            self.buf += chunk

    def cmd(self, text):
        self.n += 1
        tag = b"c%d" % self.n
        self.s.sendall(tag + b" " + text + b"\r\n")
        self.buf = b"\r\n" + self.buf               # every answer starts a line
        out = self.until(b"\r\n" + tag + b" ")
        line = self.until(b"\r\n")
        assert line.startswith(b"OK"), (text, line, out[-300:])
        return out[2:-len(tag) - 1]                   # without the tagged line's tag

    def close(self):
        self.cmd(b"LOGOUT")
        self.s.close()


def main(ns):
    names = [n for n in ns if n.startswith("test_") and callable(ns[n])]
    only = sys.argv[1:]
    failed = 0
    for n in names:
        if only and n not in only:
            continue
        try:
            ns[n]()
            print("ok", n, flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failed += 1
            msg = "".join(traceback.format_exception_only(type(e), e)).strip().replace("\n", "\n    ")
            print("FAIL %s: %s" % (n, msg), flush=True)
            traceback.print_exc(file=sys.stdout)
    return failed


def run_with_server(ns, setup, cleanup=None):
    """The common `__main__` of a test file that shares one server: call
    setup() (which sets the module's `atto`), run the tests, stop the server
    checking its clean exit (a sanitizer report or a bad exit code is one
    more failure: server_exit), run cleanup(), exit with the verdict."""
    setup()
    try:
        failed = main(ns)
    finally:
        try:
            ns["atto"].stop()
        except AssertionError as e:
            print("FAIL server_exit: %s" % e)
            failed = 1
        if cleanup:
            cleanup()
    sys.exit(1 if failed else 0)
