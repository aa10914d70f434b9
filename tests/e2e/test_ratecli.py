"""test_ratecli.py — bench/ratecli (the fixed-rate client of bench/run) against
a real atto and against small Python servers that frame their answers the
ways atto does not (close-delimited, HTTP/1.0, malformed).

ratecli is built with `make build/bench/ratecli`. Each case runs it at a low
rate for a second or two and checks what it reports against what the server
counted: atto's access log (`--log FILE`, one line per request, written by
the time atto has stopped), or the Python server's own count. The schedule
makes the totals exact whatever the machine's load: at R req/s for -d D
seconds, sent + unsent = R*D (a request still waiting for its connection at
the end is unsent), done + errors = sent, and the server got sent plus the
R*W warm-up requests of -w W. Only how many go unsent depends on the load
(a stalled connection falls behind); exit 2 and CANNOT KEEP UP must then
agree with the achieved rate.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading

import lib

RATECLI = os.path.join(lib.ROOT, "build", "bench", "ratecli")
LINE = re.compile(r"^rate (\d+) sent (\d+) done (\d+) errors (\d+) non2xx (\d+) unsent (\d+) "
                  r"p50 (\S+) p90 (\S+) p99 (\S+) p999 (\S+) max (\S+) \(ms\) achieved (\d+)/s(.*)$")
SITE = {
    "public/hello.txt": "Hello World!\n",
    "index.lua": """
site:get("/chunked", function(req, res)
  res:write("hello, ")
  res:write("chunked ")
  res:write("world\\n")
  res:finish()
end)
""",
}


def build():
    p = subprocess.run(["make", "-s", "build/bench/ratecli"], cwd=lib.ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    assert p.returncode == 0, "make build/bench/ratecli failed:\n" + p.stdout.decode(errors="replace")


def ratecli(*args):
    """Run ratecli; return its numbers as a dict and its stderr. Exit 2
    (CANNOT KEEP UP) must go with an achieved rate below 95% of the rate."""
    p = subprocess.run([RATECLI] + [str(a) for a in args], capture_output=True, timeout=60)
    out, err = p.stdout.decode(), p.stderr.decode()
    m = LINE.match(out.strip())
    assert m, "ratecli exited %d; its line does not parse: %r %s" % (p.returncode, out, err)
    keys = ("rate sent done errors non2xx unsent p50 p90 p99 p999 max achieved").split()
    r = {k: (float(v) if k.startswith("p") or k == "max" else int(v)) for k, v in zip(keys, m.groups())}
    behind = r["done"] < 0.95 * r["rate"] * float(args[args.index("-d") + 1])
    assert p.returncode == (2 if behind else 0), "exit %d: %s %s" % (p.returncode, out, err)
    assert (m.group(13) == " CANNOT KEEP UP (below 95% of the rate)") == behind, out
    return r, err


def totals(r, total, errors=0, non2xx=0, why=""):
    """The exact accounting, and most requests sent (a loaded machine may
    leave a few unsent, not a tenth)."""
    assert r["sent"] + r["unsent"] == total, (why, r)
    assert r["done"] + r["errors"] == r["sent"], (why, r)
    assert (r["errors"], r["non2xx"]) == (errors, non2xx if non2xx != "done" else r["done"]), (why, r)
    assert r["sent"] >= 0.9 * total, ("too many unsent", why, r)
    if r["done"]:
        assert 0 < r["p50"] <= r["p90"] <= r["p99"] <= r["p999"] <= r["max"], (why, r)


def access_lines(path, target):
    with open(path) as f:
        return sum(1 for line in f if ('"GET %s HTTP/1.1"' % target) in line)


def test_counts_match_atto_access_log():
    site = lib.tmp_site(SITE)
    log = os.path.join(tempfile.mkdtemp(prefix="atto-ratecli-"), "access.log")
    a = lib.Atto(site, args=["--workers", "1", "--log", log]).start()
    try:
        r, err = ratecli("-c", 8, "-R", 200, "-d", 2, "-w", 0.5, "http://127.0.0.1:%d/hello.txt" % a.http)
    finally:
        a.stop()
    totals(r, 400)
    assert r["rate"] == 200 and r["achieved"] == r["done"] // 2, r
    served = access_lines(log, "/hello.txt")
    assert served == 100 + r["sent"], "atto logged %d requests; ratecli sent 100 warm-up + %d" % (
        served, r["sent"])
    assert "first error" not in err, err


def test_chunked_lua_route_and_non2xx():
    site = lib.tmp_site(SITE)
    log = os.path.join(tempfile.mkdtemp(prefix="atto-ratecli-"), "access.log")
    a = lib.Atto(site, args=["--workers", "1", "--log", log]).start()
    try:
        raw = lib.raw(a.http, b"GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert b"transfer-encoding: chunked" in raw.lower(), raw[:300]
        r, err = ratecli("-c", 4, "-R", 100, "-d", 1, "-w", 0, "http://127.0.0.1:%d/chunked" % a.http)
        r404, _ = ratecli("-c", 4, "-R", 100, "-d", 1, "-w", 0, "http://127.0.0.1:%d/missing" % a.http)
    finally:
        a.stop()
    totals(r, 100, why=err)
    assert access_lines(log, "/chunked") == 1 + r["sent"]        # and the raw check above
    totals(r404, 100, non2xx="done")
    assert access_lines(log, "/missing") == r404["sent"]


def test_tls_counts_match():
    site = lib.tmp_site(SITE)
    log = os.path.join(tempfile.mkdtemp(prefix="atto-ratecli-"), "access.log")
    a = lib.Atto(site, enable=("http", "https"), args=["--workers", "1", "--log", log]).start()
    try:
        r, err = ratecli("-c", 4, "-R", 100, "-d", 1, "-w", 0, "https://127.0.0.1:%d/hello.txt" % a.https)
    finally:
        a.stop()
    totals(r, 100, why=err)
    assert access_lines(log, "/hello.txt") == r["sent"]


class TinyServer:
    """Answers every request on a connection with `answer` (bytes), then
    closes when close=True; counts the requests it read."""

    def __init__(self, answer, close):
        self.answer, self.close, self.count = answer, close, 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        buf = b""
        with c:
            while True:
                while b"\r\n\r\n" not in buf:
                    try:
                        chunk = c.recv(4096)
                    except OSError:
                        return
                    if not chunk:
                        return
                    buf += chunk
                buf = buf[buf.index(b"\r\n\r\n") + 4:]
                with self.lock:
                    self.count += 1
                c.sendall(self.answer)
                if self.close:
                    c.shutdown(socket.SHUT_RDWR)
                    return

    def stop(self):
        self.sock.close()


def test_close_delimited_and_http10_answers():
    for answer in (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nread me to the close",
                   b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"):
        s = TinyServer(answer, close=True)
        try:
            r, err = ratecli("-c", 4, "-R", 50, "-d", 1, "-w", 0, "http://127.0.0.1:%d/" % s.port)
        finally:
            s.stop()
        totals(r, 50, why=answer[:12] + err.encode())
        assert s.count == r["sent"], "server counted %d" % s.count


def test_malformed_answers_are_errors_with_a_reason():
    s = TinyServer(b"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello", close=False)
    try:
        r, err = ratecli("-c", 2, "-R", 20, "-d", 1, "-w", 0, "http://127.0.0.1:%d/" % s.port)
    finally:
        s.stop()
    totals(r, 20, errors=r["sent"])
    assert r["done"] == 0 and r["achieved"] == 0, r
    assert "ratecli: first error: bad Content-Length" in err, err
    assert s.count == r["sent"]


def test_bad_arguments_exit_1_with_usage():
    for args, why in ((["ftp://127.0.0.1/"], "URL must start with http:// or https://"),
                      (["-x", "1", "http://127.0.0.1:1/"], "unknown option"),
                      (["-R", "0", "http://127.0.0.1:1/"], "out of range"),
                      (["http://127.0.0.1:99999/"], "bad port in URL"),
                      (["http://example.invalid:80/"], "host must be an IPv4 address or localhost")):
        p = subprocess.run([RATECLI] + args, capture_output=True, timeout=10)
        err = p.stderr.decode()
        assert p.returncode == 1 and ("ratecli: " + why) in err and "usage:" in err, (args, p.returncode, err)
    port = lib.free_port()
    p = subprocess.run([RATECLI, "-c", "1", "-R", "10", "-d", "1", "http://127.0.0.1:%d/" % port],
                       capture_output=True, timeout=10)
    assert p.returncode == 1 and "cannot connect to 127.0.0.1:%d" % port in p.stderr.decode(), p.stderr


if __name__ == "__main__":
    build()
    sys.exit(1 if lib.main(globals()) else 0)
