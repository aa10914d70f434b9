"""benchlib/tools.py — the load tools, each run against one server and read
back into one round's metrics ({"rps", "p50", "p99", "rss"} in req/s, ms and
KB, plus "note" when the tool saw errors, "err" when it gave no result, "na"
when the server does not speak the protocol): wrk, h2load (percentiles from
its per-request log), ab, bench/ratecli (built here from bench/ratecli.c and
bench/ratecli_core.c) and the idle-connection driver bench/idle.py. run_tool
keeps every tool's output in build/bench/raw/ and its command line in
commands.txt.
"""
import os
import re
import subprocess
import sys
import time

from benchlib.config import DURATION, RAW, RATECLI, ROOT, BenchError, commands
from benchlib.cpu import tool_prefix, tool_threads
from benchlib.servers import RssSampler, fetch, rss_kb


def run_tool(name, argv, timeout):
    """Run a load tool, keep its output in raw/, return stdout+stderr."""
    commands.append(" ".join(argv))
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=timeout, cwd=ROOT)
        text = p.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b"").decode(errors="replace") + "\n[timed out]\n"
    with open(os.path.join(RAW, name + ".txt"), "w") as f:
        f.write("$ " + " ".join(argv) + "\n" + text)
    return text


# ---- load tools --------------------------------------------------------------

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m|h)$", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def wrk(server, tag, url, headers=(), duration=None):
    duration = duration or DURATION
    w = server.workers
    argv = tool_prefix(w) + ["wrk", "-t%d" % tool_threads(w), "-c64", "-d%ds" % duration, "--latency"]
    for h in headers:
        argv += ["-H", h]
    argv.append(url)
    with RssSampler(server) as rs:
        out = run_tool(tag, argv, duration + 30)
    r = {"rss": rs.peak}
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if not m:
        return dict(r, err="wrk: " + out.strip().splitlines()[-1] if out.strip() else "wrk: no output")
    r["rps"] = float(m.group(1))
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(r"^\s+%s%%\s+(\S+)" % pct, out, re.M)
        r[key] = to_ms(m.group(1)) if m else None
    bad = []
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    if m:
        bad.append("%s non-2xx" % m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m and sum(int(x) for x in m.groups()):
        bad.append("socket errors " + "/".join(m.groups()))
    if bad:
        r["note"] = ", ".join(bad)
    return r


def percentile(sorted_vals, q):
    if not sorted_vals:
        return None
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))]


def h2load(server, tag, url, streams):
    log = os.path.join(RAW, tag + ".log")
    w = server.workers
    argv = tool_prefix(w) + ["h2load", "-t%d" % tool_threads(w), "-c64", "-m%d" % streams, "-D", str(DURATION),
            "--log-file=" + log, url]
    with RssSampler(server) as rs:
        out = run_tool(tag, argv, DURATION + 30)
    r = {"rss": rs.peak}
    proto = re.search(r"Application protocol: (\S+)", out)
    if not proto or proto.group(1) not in ("h2", "h2c"):
        return dict(r, na="no h2 (%s)" % (proto.group(1) if proto else "no connection"))
    m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed", out)
    rps = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    if not m or not rps or int(m.group(3)) == 0:
        return dict(r, na="h2 requests failed")
    r["rps"] = float(rps.group(1))
    lat = []
    try:
        with open(log) as f:
            for line in f:
                cols = line.split("\t")
                if len(cols) >= 3 and cols[1].startswith("2"):
                    lat.append(int(cols[2]) / 1000.0)
        os.unlink(log)
    except (OSError, ValueError):
        pass
    lat.sort()
    r["p50"], r["p99"] = percentile(lat, 0.50), percentile(lat, 0.99)
    if int(m.group(4)):
        r["note"] = "%s of %s failed" % (m.group(4), m.group(1))
    return r


def ratecli(server, tag, url, rate):
    """bench/ratecli: open loop, `rate` req/s over 64 connections, 1 s warm-up;
    latency counted from each request's intended send time."""
    argv = tool_prefix(server.workers) + [RATECLI, "-c", "64", "-R", "%d" % rate, "-d", str(DURATION), "-w", "1", url]
    with RssSampler(server) as rs:
        out = run_tool(tag, argv, DURATION + 30)
    r = {"rss": rs.peak}
    m = re.search(r"rate \S+ sent (\d+) done (\d+) errors (\d+) non2xx (\d+) unsent (\d+) "
                  r"p50 (\S+) p90 \S+ p99 (\S+) .* achieved (\d+)/s", out)
    if not m:
        return dict(r, err="ratecli: " + (out.strip().splitlines() or ["no output"])[-1])
    sent, done, errors, non2xx, unsent = (int(x) for x in m.groups()[:5])
    r.update(rps=float(m.group(8)), p50=float(m.group(6)), p99=float(m.group(7)))
    bad = []
    if "CANNOT KEEP UP" in out:
        bad.append("could not keep up: %s of %d req/s (%d not sent in time)"
                   % (m.group(8), rate, unsent))
    if errors or non2xx:
        bad.append("%d errors, %d non-2xx of %d" % (errors, non2xx, sent))
    if bad:
        r["note"] = ", ".join(bad)
    return r


def build_ratecli():
    cc = os.environ.get("CC", "cc")
    argv = [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-std=c11", "-D_GNU_SOURCE", "-I.",
            os.path.join("bench", "ratecli.c"), os.path.join("bench", "ratecli_core.c"),
            "-o", RATECLI, "-lssl", "-lcrypto"]
    commands.append(" ".join(argv))
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    if p.returncode:
        raise BenchError("building bench/ratecli failed:\n" + p.stdout.decode(errors="replace"))


def ab(server, tag, url, extra, timed):
    """ab without -k: a new connection, so a new TLS handshake, per request."""
    argv = tool_prefix(server.workers) + ["ab", "-q", "-c", "10" if not timed else "16"]
    argv += (["-t", str(DURATION), "-n", "10000000"] if timed else ["-n", "1000"])
    argv += extra + [url]
    with RssSampler(server) as rs:
        out = run_tool(tag, argv, DURATION + 60)
    r = {"rss": rs.peak}
    m = re.search(r"Requests per second:\s*([\d.]+)", out)
    if not m:
        lines = out.strip().splitlines()
        return dict(r, err="ab: " + (lines[-1] if lines else "no output"))
    r["rps"] = float(m.group(1))
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(r"^\s+%s%%\s+(\d+)" % pct, out, re.M)
        r[key] = float(m.group(1)) if m else None
    bad = []
    m = re.search(r"Failed requests:\s*(\d+)", out)
    if m and int(m.group(1)):
        bad.append("%s failed" % m.group(1))
    m = re.search(r"Non-2xx responses:\s*(\d+)", out)
    if m:
        bad.append("%s non-2xx" % m.group(1))
    if bad:
        r["note"] = ", ".join(bad)
    return r


def idle(server_cls, workers, n):
    """Memory per idle keep-alive connection, on a freshly started server."""
    s = server_cls(workers).start()
    try:
        fetch(s, "http", "/hello.txt")
        time.sleep(0.5)
        before = rss_kb(s.pids())
        argv = [sys.executable, os.path.join(ROOT, "bench", "idle.py"),
                "127.0.0.1", str(s.http), str(n), "/hello.txt"]
        commands.append(" ".join(argv))
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
        try:
            ready = p.stdout.readline().decode().split()
            if len(ready) != 3 or ready[0] != "ready":
                return {"err": "idle.py: %r" % ready}
            held = int(ready[1])
            time.sleep(1.0)
            after = rss_kb(s.pids())
            p.stdin.write(b"\n")
            p.stdin.flush()
            closed = p.stdout.readline().decode().split()
            p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        r = {"rss": after, "kb_conn": (after - before) / max(held, 1)}
        notes = []
        if held < n:
            notes.append("only %d of %d connected" % (held, n))
        if len(closed) == 3 and int(closed[2]) < held:
            notes.append("%d closed by server while idle" % (held - int(closed[2])))
        if notes:
            r["note"] = ", ".join(notes)
        return r
    finally:
        s.stop()
        s.cleanup()

