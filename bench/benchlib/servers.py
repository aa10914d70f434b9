"""benchlib/servers.py — the three servers and their processes: Server (start
on free ports in its own process group, stop whatever happens, the log of a
server that would not start), Atto, Nginx and H2o (each writes its config
into its temporary folder and gives its command line), the process-tree RSS
of a server (tree_pids, rss_kb, RssSampler for the peak while a load runs),
and fetch/check_content, the single requests that check every server serves
the same bytes before it is measured.
"""
import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

from benchlib.cpu import server_prefix
from benchlib.config import ATTO, SITE, PUBLIC, ROOT, HELLO, BenchError, big_content, commands

running = []               # every server process we started, for the exit trap


# ---- processes -------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def tree_pids(root):
    """root and all its descendants, from /proc/*/stat."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
                parent[int(d)] = int(st[st.rfind(")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    out, unvisited = [], [root]       # depth-first over the parent links
    while unvisited:
        p = unvisited.pop()
        out.append(p)
        unvisited += [c for c, pp in parent.items() if pp == p]
    return out


def rss_kb(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class RssSampler:
    """Peak of the summed RSS of a server's process tree while a load runs."""

    def __init__(self, server):
        self.server, self.peak, self.stop = server, 0, threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def run(self):
        while True:
            self.peak = max(self.peak, rss_kb(self.server.pids()))
            if self.stop.wait(0.1):
                return

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


# ---- servers ---------------------------------------------------------------

class Server:
    name = "?"
    stop_signal = signal.SIGTERM
    protocols = ()

    def __init__(self, workers):
        self.workers = workers
        self.tmp = tempfile.mkdtemp(prefix="atto-bench-%s-" % self.name)
        self.proc = None

    def start(self):
        self.http, self.https = free_port(), free_port()
        argv = server_prefix(self.workers) + self.command()   # core 0 with one worker
        commands.append(" ".join(argv))
        self.log = open(os.path.join(self.tmp, "stdout.log"), "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=ROOT,
                                     start_new_session=True)
        running.append(self)
        for port in (self.http, self.https):
            if not wait_port(port, self.proc):
                self.stop()
                raise BenchError("%s did not listen on port %d:\n%s" % (self.name, port, self.output()))
        return self

    def output(self):
        text = ""
        for f in sorted(os.listdir(self.tmp)):
            if f.endswith(".log"):
                with open(os.path.join(self.tmp, f), errors="replace") as fh:
                    text += fh.read()[-2000:]
        return text

    def pids(self):
        return tree_pids(self.proc.pid) if self.proc and self.proc.poll() is None else []

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, self.stop_signal)
                self.proc.wait(timeout=10)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)   # the group we created for it
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        self.log.close()
        if self in running:
            running.remove(self)
        self.proc = None

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def url(self, scheme, path):
        return "%s://127.0.0.1:%d%s" % (scheme, self.https if scheme == "https" else self.http, path)


class Atto(Server):
    name = "atto"
    protocols = ("h1", "tls", "h2", "h2c", "lua")

    def command(self):
        return [ATTO, SITE, "--http", str(self.http), "--https", str(self.https),
                "--workers", str(self.workers), "--bind", "127.0.0.1"]


class Nginx(Server):
    name = "nginx"
    stop_signal = signal.SIGQUIT
    protocols = ("h1", "tls", "h2")

    def command(self):
        t = self.tmp
        temps = "".join("    %s_temp_path %s/%s;\n" % (k, t, k)
                        for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf = f"""daemon off;
master_process on;
worker_processes {self.workers if self.workers == 1 else "auto"};
worker_rlimit_nofile 65536;
pid {t}/nginx.pid;
error_log {t}/error.log warn;
{"user root;" if os.getuid() == 0 else ""}
events {{ worker_connections 20000; }}
http {{
    access_log off;
{temps}    sendfile on;
    tcp_nopush on;
    keepalive_timeout 120s;
    keepalive_requests 100000000;
    types {{ text/plain txt; application/octet-stream bin; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{self.http};
        listen 127.0.0.1:{self.https} ssl http2;
        ssl_certificate {SITE}/.atto/cert.pem;
        ssl_certificate_key {SITE}/.atto/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        root {PUBLIC};
    }}
}}
"""
        with open(os.path.join(t, "nginx.conf"), "w") as f:
            f.write(conf)
        return ["nginx", "-p", t + "/", "-c", t + "/nginx.conf", "-e", t + "/error.log"]


class H2o(Server):
    name = "h2o"
    protocols = ("h1", "tls", "h2", "h2c")

    def command(self):
        t = self.tmp
        conf = f"""num-threads: {self.workers}
max-connections: 20000
pid-file: {t}/h2o.pid
error-log: {t}/error.log
{"user: root" if os.getuid() == 0 else ""}
http1-request-timeout: 120
http2-idle-timeout: 120
listen:
  host: 127.0.0.1
  port: {self.http}
listen:
  host: 127.0.0.1
  port: {self.https}
  ssl:
    certificate-file: {SITE}/.atto/cert.pem
    key-file: {SITE}/.atto/key.pem
    minimum-version: TLSv1.2
hosts:
  "127.0.0.1":
    paths:
      /:
        file.dir: {PUBLIC}
"""
        with open(os.path.join(t, "h2o.conf"), "w") as f:
            f.write(conf)
        return ["h2o", "-c", t + "/h2o.conf"]


SERVER_CLASSES = {"atto": Atto, "nginx": Nginx, "h2o": H2o}


def stop_all():
    for s in list(running):
        s.stop()


# ---- one request, for checks -----------------------------------------------

def fetch(server, scheme, path, headers=None):
    if scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", server.https, timeout=10, context=ctx)
    else:
        c = http.client.HTTPConnection("127.0.0.1", server.http, timeout=10)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        c.close()


def check_content(server):
    want = {"/hello.txt": HELLO, "/100k.bin": big_content()}
    for scheme in ("http", "https"):
        for path, body in want.items():
            status, _, got = fetch(server, scheme, path)
            if status != 200 or got != body:
                raise BenchError("%s %s%s: status %d, %d bytes (want 200, %d bytes)"
                                 % (server.name, scheme, path, status, len(got), len(body)))

